"""VERP: a Return-Path (and a List-Unsubscribe mailto) that names its delivery.

``bounces@example.com`` becomes ``bounces+b123-9f2c...@example.com`` for delivery 123: a
bounce comes back to that address, so it names the delivery without parsing anything. The
mailto unsubscribe address is ``bounces+u123-...@example.com`` in the same mailbox. The
token is the delivery id and a keyed hash (HMAC-SHA256 with the signing key, 16 hex
digits), all lower case because mail servers may change the case of a local part.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["b", "u"]  # bounce, unsubscribe
_TOKEN = re.compile(r"\+([bu])(\d{1,18})-([0-9a-f]{16})@", re.IGNORECASE)


def _mac(secret: str, kind: str, delivery_id: int) -> str:
    message = f"verp:{kind}:{delivery_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]


def verp_address(return_path: str, secret: str, kind: Kind, delivery_id: int) -> str:
    """``local+KIND<id>-<mac>@domain`` for the configured ``return_path``."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+{kind}{delivery_id}-{_mac(secret, kind, delivery_id)}@{domain}"


@dataclass(frozen=True)
class VerpToken:
    kind: Kind
    delivery_id: int


def read_verp(address: str, secret: str) -> VerpToken | None:
    """The token in ``address`` if it is one of ours with a valid hash, else None."""
    found = _TOKEN.search(address + ("@" if "@" not in address else ""))
    if found is None:
        return None
    kind, raw_id, mac = found.group(1).lower(), found.group(2), found.group(3).lower()
    delivery_id = int(raw_id)
    if not hmac.compare_digest(mac, _mac(secret, kind, delivery_id)):
        return None
    return VerpToken(kind, delivery_id)  # type: ignore[arg-type]
