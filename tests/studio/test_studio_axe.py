"""axe-core in chromium finds no serious or critical violation on any studio page, at a
phone's width (390 px) and a desktop's (1280 px), and no page is wider than the screen."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.accounts.users import Account
from pipeline.sending.editions import freeze_edition
from pipeline.sending.engine import send_edition
from pipeline.subscribers import service
from tests.jstools import axe_source
from tests.studio.test_writing_browser import sign_in
from tests.web.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUG = "2026-12-01-microneedling"
PAGES = [
    "/admin",
    "/admin/issues/new",
    f"/admin/issues/{SLUG}/edit",
    f"/admin/issues/{SLUG}/edit?file=articles/01-microneedling.md",
    f"/admin/issues/{SLUG}",
    f"/admin/issues/{SLUG}/results",
    "/admin/results",
    "/admin/subscribers",
    "/admin/subscribers?q=reader",
    "/admin/subscribers/{reader}",
]


def serious(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def test_every_studio_page_passes_axe(server: Server, admin: Account, browser: Any) -> None:
    service.add_subscriber(
        server.engine, "reader@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    person = service.get_subscriber(server.engine, email="reader@example.com")
    assert person is not None
    reader = person.public_id
    edition_id = freeze_edition(server.settings, server.engine, SLUG, clock=server.clock)
    send_edition(server.settings, server.engine, edition_id, clock=server.clock)
    # axe is injected as an inline script: this context alone lets it past the CSP
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        sign_in(page, server, admin)  # an admin sees every control
        found: dict[str, list[str]] = {}
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            for path in PAGES:
                page.goto(server.url + path.replace("{reader}", reader))
                if "/edit" in path:
                    page.wait_for_selector("#findings")
                page.add_script_tag(path=str(axe_source()))
                result = page.evaluate(
                    "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
                )
                if serious(result):
                    found[f"{path} at {width}"] = serious(result)
                wide = page.evaluate("document.scrollingElement.scrollWidth")
                if wide > width + 1:
                    found[f"{path} at {width} (width)"] = [f"page is {wide} px wide"]
        assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
    finally:
        context.close()
