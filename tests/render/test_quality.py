"""Quality gates for every block: the sample issue, the every-block issue and the digest
layout in chromium at 320, 375 and 600 px, light and dark (nothing wider than the screen,
every picture loaded with alt text, axe-core finds no serious or critical violation), and
doiuse-email's report on the sample issue matches what docs/design.md says degrades."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.render.build import build_issue, write_build
from tests.jstools import axe_source, doiuse
from tests.render.golden import DIGEST, EVERY_BLOCK, SLUG, make_project

REPO = Path(__file__).resolve().parents[2]
ISSUES = (SLUG, EVERY_BLOCK, DIGEST)
WIDTHS = (320, 375, 600)
SCHEMES = ("light", "dark")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_project(tmp_path_factory.mktemp("quality"))


@pytest.fixture(scope="module")
def built(project: Settings) -> dict[str, dict[str, Path]]:
    return {slug: write_build(project, build_issue(project, slug)) for slug in ISSUES}


def serious(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.mark.browser
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("slug", ISSUES)
def test_fits_every_width_and_passes_axe(
    browser: Any, built: dict[str, dict[str, Path]], slug: str, scheme: str
) -> None:
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    try:
        for part in ("email.html", "web.html"):
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(built[slug][part].as_uri())
                page.wait_for_load_state("load")
                wide = page.evaluate(
                    """() => {
                        const limit = window.innerWidth;
                        const over = Array.from(document.querySelectorAll('body *'))
                          .filter(el => el.getBoundingClientRect().right > limit + 0.5
                                        && el.getClientRects().length)
                          .map(el => el.tagName + '.' + el.className);
                        return [document.scrollingElement.scrollWidth, limit, over.slice(0, 5)];
                    }"""
                )
                assert wide[0] <= wide[1] and not wide[2], (part, width, wide)
                images = page.evaluate(
                    """Array.from(document.images).map(i => [i.getAttribute('alt'),
                        i.naturalWidth > 0, i.getBoundingClientRect().right])"""
                )
                for alt, loaded, right in images:
                    assert alt and loaded and right <= width + 0.5, (part, width, alt)
            if part == "email.html":
                page.set_viewport_size({"width": 375, "height": 900})
                page.goto(built[slug][part].as_uri())
                page.add_script_tag(path=str(axe_source()))
                result = page.evaluate(
                    "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
                )
                assert serious(result) == [], (slug, scheme)
    finally:
        context.close()


@pytest.mark.browser
def test_dark_mode_changes_the_cards_and_keeps_text_readable(
    browser: Any, built: dict[str, dict[str, Path]]
) -> None:
    colours = {}
    for scheme in SCHEMES:
        context = browser.new_context(color_scheme=scheme, viewport={"width": 600, "height": 900})
        page = context.new_page()
        page.goto(built[EVERY_BLOCK]["email.html"].as_uri())
        colours[scheme] = page.evaluate(
            """() => {
                const name = Array.from(document.querySelectorAll('h3'))
                  .find(h => h.textContent.includes('Test Serum'));
                const card = document.querySelector('.nl-products');
                return [getComputedStyle(name).color, getComputedStyle(card).backgroundColor];
            }"""
        )
        context.close()
    assert colours["light"] == ["rgb(46, 35, 39)", "rgb(255, 255, 255)"]
    assert colours["dark"] == ["rgb(243, 233, 236)", "rgb(39, 31, 34)"]


@pytest.mark.browser
def test_products_sit_in_a_row_on_desktop_and_stack_on_phones(
    browser: Any, built: dict[str, dict[str, Path]]
) -> None:
    tops = {}
    for width in (600, 375):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(built[SLUG]["email.html"].as_uri())
        tops[width] = page.evaluate(
            """Array.from(document.querySelectorAll('.nl-product'))
                 .map(c => Math.round(c.getBoundingClientRect().top))"""
        )
        context.close()
    assert len(tops[600]) == 3 and len(set(tops[600])) == 1  # one row
    assert tops[375] == sorted(tops[375]) and len(set(tops[375])) == 3  # stacked


def documented_degradations() -> set[str]:
    guide = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    section = guide.split("## What degrades in which email client", 1)[1]
    return set(re.findall(r"^\| `([^`]+)` \|", section, re.M))


def test_doiuse_email_reports_only_what_the_docs_say_degrades(
    built: dict[str, dict[str, Path]],
) -> None:
    result = doiuse(built[SLUG]["email.html"])
    unsupported: dict[str, set[str]] = {}
    for error in result["errors"]:
        found = re.match(r"`(.+?)` is not supported by `(.+?)`", error)
        assert found, error
        unsupported.setdefault(found.group(1), set()).add(found.group(2))
    assert unsupported, "doiuse-email ran and found the usual MJML fallbacks"
    assert set(unsupported) <= documented_degradations(), sorted(
        set(unsupported) - documented_degradations()
    )
    # what the layout rests on works everywhere: tables, inline styles, background colours
    for feature in ("<table> element", "style attribute", "background-color", "width"):
        assert feature not in unsupported
    assert unsupported["border-radius"] >= {"outlook.windows"}
    assert unsupported["@media"] >= {"outlook.windows"}
