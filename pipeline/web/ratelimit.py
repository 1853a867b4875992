"""Per-network limits of the web app: what a client's address counts as. The counting itself
is ``pipeline.store.counters.count_hit`` (in the database, shared by every worker)."""

from __future__ import annotations

import ipaddress

from pipeline.store.counters import Verdict, count_hit

__all__ = ["Verdict", "count_hit", "network_of"]


def network_of(ip: str) -> str:
    """What a per-IP limit counts: the address for IPv4, its /64 network for IPv6 (one
    customer usually holds a whole /64, so counting addresses would count nothing)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
