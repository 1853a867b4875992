"""The request rules of the human/machine verdict."""

from __future__ import annotations

from pipeline.config import TrackingSection
from pipeline.tracking.classify import Verdict, request_verdict, sendgrid_verdict

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def verdict(
    kind: str, agent: str, method: str = "GET", ip: str = "198.51.100.7", **cfg: object
) -> Verdict:
    return request_verdict(TrackingSection(**cfg), kind, method=method, user_agent=agent, ip=ip)


def test_a_browser_is_a_person() -> None:
    assert verdict("click", CHROME) == Verdict("human")
    assert verdict("open", CHROME) == Verdict("human")
    # Gmail's image proxy fetches when the person opens the message
    assert verdict(
        "open",
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    ).human


def test_machine_rules_on_the_request() -> None:
    assert verdict("click", CHROME, method="HEAD") == Verdict("machine", "head")
    assert verdict("open", "Mozilla/5.0") == Verdict("machine", "apple_proxy")
    assert verdict("click", "Mozilla/5.0") == Verdict("machine", "scanner_agent")
    assert verdict("click", "") == Verdict("machine", "scanner_agent")
    assert verdict("click", "python-requests/2.32") == Verdict("machine", "scanner_agent")
    assert (
        verdict("click", "Mozilla/5.0 (compatible; Barracuda Sentinel)").reason == "scanner_agent"
    )
    assert verdict("click", CHROME + " AcmeGate/1", scanner_agents=["acmegate"]).reason == (
        "scanner_agent"
    )
    assert verdict("open", CHROME, ip="17.58.1.2", machine_networks=["17.0.0.0/8"]) == Verdict(
        "machine", "proxy_network"
    )
    assert verdict("open", CHROME, ip="not-an-ip", machine_networks=["17.0.0.0/8"]).human


def test_sendgrid_machine_opens() -> None:
    assert sendgrid_verdict({"event": "open", "sg_machine_open": True}) == Verdict(
        "machine", "sg_machine_open"
    )
    assert sendgrid_verdict({"event": "open", "sg_machine_open": False}) == Verdict("human")
    assert sendgrid_verdict({"event": "click"}) == Verdict("human")
    assert sendgrid_verdict({"event": "bounce"}) is None
