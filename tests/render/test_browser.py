"""The sample issue in a real browser (Debian's chromium via Playwright) at phone and
desktop widths: nothing overflows, images fit, the legal footer is visible."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings, load_settings
from pipeline.render.build import build_issue, write_build
from tests.conftest import REPO, TEST_SECRET

SLUG = "2026-12-01-microneedling"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One copied project for the module: the pages are only read."""
    root = tmp_path_factory.mktemp("browser-project")
    for name in ("templates", "issues", "brand"):
        shutil.copytree(REPO / name, root / name)
    shutil.copyfile(REPO / "newsletter.toml", root / "newsletter.toml")
    return load_settings(root / "newsletter.toml", {"NEWSLETTER_SECRET_KEY": TEST_SECRET})


@pytest.fixture(scope="module")
def built(module_settings: Settings) -> dict[str, Path]:
    return write_build(module_settings, build_issue(module_settings, SLUG))


@pytest.mark.parametrize("width", [320, 375, 600])
def test_the_email_fits_and_shows_the_footer(
    page: Any, built: dict[str, Path], module_settings: Settings, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(built["email.html"].as_uri())
    page.wait_for_load_state("load")
    scroll_width, inner_width = page.evaluate(
        "[document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width
    images = page.evaluate(
        """Array.from(document.images).map(img => {
            const box = img.getBoundingClientRect();
            const parent = img.parentElement.getBoundingClientRect();
            return {alt: img.getAttribute('alt'), loaded: img.naturalWidth > 0,
                    width: box.width, parent: parent.width, right: box.right};
        })"""
    )
    assert images, "the sample issue has a picture"
    for image in images:
        assert image["alt"], image
        assert image["loaded"], image
        assert image["width"] <= image["parent"] + 0.5, image
        assert image["right"] <= width, image
    address = page.get_by_text(module_settings.newsletter.postal_address, exact=True)
    address.scroll_into_view_if_needed()
    assert address.is_visible()
    box = address.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    unsubscribe = page.get_by_role("link", name="Unsubscribe")
    unsubscribe.scroll_into_view_if_needed()
    assert unsubscribe.is_visible()
    assert unsubscribe.get_attribute("href").endswith("/unsubscribe/EXAMPLE-TOKEN")


def test_the_email_is_small_and_every_image_has_alt(built: dict[str, Path]) -> None:
    html = built["email.html"].read_bytes()
    assert len(html) < 102 * 1024
    assert html.count(b"<img ") == html.count(b'alt="') - html.count(b'alt=""')


def test_the_web_version_shows_the_signup_call(page: Any, built: dict[str, Path]) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(built["web.html"].as_uri())
    call = page.get_by_text("Get updated with beauty resources, tips, and news")
    call.scroll_into_view_if_needed()
    assert call.is_visible()
    link = page.get_by_role("link", name="Subscribe to Glow Notes")
    assert link.get_attribute("href") == "http://127.0.0.1:8000/subscribe"
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
