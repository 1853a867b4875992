"""Human or machine: the verdict on each open and click, decided as it arrives.

Only the verdict (and the name of the rule behind a machine verdict) is stored; the IP
address and the user agent are read here and dropped.

Rules on the request itself (``request_verdict``):

- ``head``: a ``HEAD`` request. Browsers follow a link with ``GET``; link checkers and
  security scanners often probe with ``HEAD`` first (RFC 9110 section 9.3.2: HEAD is for
  metadata, "without transferring the representation data").
- ``apple_proxy``: an open whose user agent is exactly ``Mozilla/5.0``. Apple Mail Privacy
  Protection fetches every remote image of a message through Apple's proxies (on iCloud
  Private Relay's infrastructure) when the message reaches the device, whether or not it
  is read, with that bare user agent and no device details. Sources: SocketLabs,
  "Identifying Apple MPP opens" (help.socketlabs.com/docs/identifying-apple-mpp-opens-in-
  notification-api-events); Word to the Wise, "Apple MPP" and "Apple MPP reporting and
  geolocation" (wordtothewise.com/2021/09/apple-mpp/, .../apple-mpp-reporting-and-
  geolocation/). Apple publishes Private Relay's egress ranges
  (https://mask-api.icloud.com/egress-ip-ranges.csv): list them in
  ``[tracking] machine_networks`` to catch opens that send another user agent.
- ``proxy_network``: the request comes from a network in ``[tracking] machine_networks``.
- ``scanner_agent``: the user agent is empty or names a link scanner, a crawler or an
  HTTP library (``SCANNER_AGENTS``, plus ``[tracking] scanner_agents``): security
  gateways (Barracuda, Mimecast, Proofpoint, Cisco/IronPort, Trend Micro, Symantec,
  Microsoft's "Safe Links" preview fetchers), link previewers and scripts. A person's
  mail client or browser never sends these. Gmail's image proxy
  (``GoogleImageProxy``) is *not* in the list: Gmail fetches images when the person opens
  the message (Google, "Images now showing", Gmail blog, December 2013), so it is a
  human open.

Rules that need the delivery's history (applied by ``pipeline.tracking.record``):

- ``prefetch``: an open within ``[tracking] prefetch_seconds`` of the message being sent.
  Apple MPP and some corporate gateways fetch images as the message arrives; listmonk's
  users measured open rates of 50% within two minutes of a send (knadh/listmonk#1025).
- ``honeypot``: a click on the hidden link (index 0, see ``pipeline.tracking.links``):
  no person can see or reach it, scanners follow every ``href``. It also marks the
  delivery's other clicks within ``HONEYPOT_WINDOW`` as machine: they are the same scan.
- ``burst``: clicks on ``[tracking] burst_links`` different links of one delivery within
  ``[tracking] burst_seconds``: people open one link at a time; scanners fetch them all
  at once. Every click of the burst becomes machine.
- ``sg_machine_open``: SendGrid flags opens it knows to be machine
  (``sg_machine_open: true``, SendGrid "Event Webhook reference": "Apple Mail Privacy
  Protection" open events).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from pipeline.config import TrackingSection

#: Reasons stored in ``delivery_events.reason`` for a machine verdict.
REASONS: tuple[str, ...] = (
    "head",
    "apple_proxy",
    "proxy_network",
    "scanner_agent",
    "prefetch",
    "honeypot",
    "burst",
    "sg_machine_open",
)

#: User-agent fragments (lower case) of scanners, crawlers, previewers and HTTP libraries.
SCANNER_AGENTS: tuple[str, ...] = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "ironport",
    "trendmicro",
    "trend micro",
    "symantec",
    "forcepoint",
    "safelinks",
    "microsoft office",  # Office link previews ("Microsoft Office/16.0 ...")
    "ms-office",
    "bingpreview",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "curl/",
    "wget/",
    "libwww-perl",
    "apache-httpclient",
    "scrapy",
    "bot",
    "crawler",
    "spider",
    "slurp",
    "facebookexternalhit",
    "preview",
    "scan",
)

#: A honeypot click marks the delivery's clicks this close to it as machine.
HONEYPOT_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class Verdict:
    verdict: str  # human | machine
    reason: str | None = None  # one of REASONS when machine

    @property
    def human(self) -> bool:
        return self.verdict == "human"


HUMAN = Verdict("human")


@lru_cache(maxsize=16)
def _networks(
    cidrs: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def in_networks(ip: str, cidrs: Sequence[str]) -> bool:
    """True when ``ip`` lies in one of ``cidrs`` (False for a value that is not an IP)."""
    if not cidrs or not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in _networks(tuple(cidrs)))


def scanner_agent(user_agent: str, extra: Sequence[str] = ()) -> bool:
    """True for an empty or bare (``Mozilla/5.0`` alone: no browser sends it) user agent, or
    one naming a scanner, crawler or HTTP library."""
    agent = user_agent.strip().lower()
    if not agent or agent == "mozilla/5.0":
        return True
    return any(f in agent for f in SCANNER_AGENTS) or any(f.lower() in agent for f in extra if f)


def request_verdict(
    cfg: TrackingSection, kind: str, *, method: str, user_agent: str, ip: str
) -> Verdict:
    """The verdict from the request alone (``kind`` is ``open`` or ``click``); human when
    no request rule applies (the recorder may still find a machine pattern)."""
    if method.upper() == "HEAD":
        return Verdict("machine", "head")
    if kind == "open" and user_agent.strip() == "Mozilla/5.0":
        return Verdict("machine", "apple_proxy")
    if in_networks(ip, cfg.machine_networks):
        return Verdict("machine", "proxy_network")
    if scanner_agent(user_agent, cfg.scanner_agents):
        return Verdict("machine", "scanner_agent")
    return HUMAN


def sendgrid_verdict(event: dict[str, object]) -> Verdict | None:
    """The verdict of a SendGrid ``open`` or ``click`` event (None for other kinds)."""
    name = event.get("event")
    if name not in ("open", "click"):
        return None
    if name == "open" and event.get("sg_machine_open") in (True, "true", 1):
        return Verdict("machine", "sg_machine_open")
    return HUMAN
