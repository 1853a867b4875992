"""Tracking through SendGrid: a tracked recipient's links become the redirect through
substitutions, an untracked recipient's request carries direct links and no pixel, the
requests validate against SendGrid's schema and turn SendGrid's own tracking off."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.render.personalise import compile_edition, placeholder
from pipeline.sending.editions import store_edition
from pipeline.sending.engine import send_edition
from pipeline.sending.transports.sendgrid import SendgridTransport
from pipeline.tracking.consent import set_tracking
from pipeline.tracking.links import TrackingPlan, track_edition
from tests.sending.conftest import SendgridStandIn, add_audience


def test_tracked_and_untracked_recipients_through_sendgrid(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    sendgrid_api: SendgridStandIn,
) -> None:
    settings = make_settings(
        env={"SENDGRID_API_KEY": "SG.test-key"},
        **{
            "database.url": db_url,
            "sending.transport": "sendgrid",
            "sendgrid.host": sendgrid_api.url,
        },
    )
    base = settings.newsletter.base_url
    html = (
        "<html><body><p>Hi " + placeholder("first_name", "there") + "</p>"
        '<a href="https://shop.example.com/serum">Shop</a>'
        '<a href="' + placeholder("unsubscribe_url") + '">Unsubscribe</a></body></html>'
    )
    compiled, links = track_edition(
        compile_edition("Glow", html, "Hi"), TrackingPlan(base_url=base)
    )
    eid = store_edition(
        engine,
        "2026-12-01-sg",
        compiled,
        lists=["beauty-tips"],
        content_hash="0" * 64,
        links=links,
    )
    ids = add_audience(engine, 4)
    set_tracking(engine, ids[1], False)
    transport = SendgridTransport.from_settings(settings)
    report = send_edition(settings, engine, eid, clock=FixedClock(), transport=transport)
    assert (report.sent, report.failed) == (4, 0)
    assert sendgrid_api.violations == []
    [tracked, untracked] = sorted(sendgrid_api.requests, key=lambda r: -len(r["personalizations"]))
    assert len(tracked["personalizations"]) == 3 and len(untracked["personalizations"]) == 1
    for body in (tracked, untracked):
        assert body["tracking_settings"] == {
            "click_tracking": {"enable": False, "enable_text": False},
            "open_tracking": {"enable": False},
        }
    tracked_html = tracked["content"][1]["value"]
    untracked_html = untracked["content"][1]["value"]
    assert 'href="https://shop.example.com/serum"' in untracked_html
    assert "<img" not in untracked_html and "aria-hidden" not in untracked_html
    assert "https://shop.example.com" not in tracked_html
    person = tracked["personalizations"][0]
    filled = tracked_html
    for token, value in person["substitutions"].items():
        filled = filled.replace(token, value)
    [click_base] = {v for v in person["substitutions"].values() if "/l/" in v}
    assert f'href="{click_base}/1"' in filled and f'href="{click_base}/0"' in filled
    assert f'<img src="{click_base.replace("/l/", "/o/")}.gif"' in filled
    assert untracked["personalizations"][0]["to"] == [
        {"email": "reader1@example.org", "name": "Reader 1"}
    ]
