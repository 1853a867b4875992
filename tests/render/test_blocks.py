"""The beauty blocks (product, routine, expert-tip), the brand kit's checks at build, the
social footer and the size of a long issue."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.content.issues import load_issue
from pipeline.errors import ConfigError, ContentError
from pipeline.render.brand import check_brand, image_size
from pipeline.render.build import build_issue, sample_values
from tests.content.helpers import ISSUE_MD, write_issue
from tests.render.golden import EVERY_BLOCK, FIXTURES

PRODUCT = """\
---
title: Our picks
kind: product
products:
  - name: Cleanser
    price: £10
    link: https://shop.example.com/a
  - name: Serum
    link: https://shop.example.com/b
  - name: Balm
    link: https://shop.example.com/c
---
"""


def load_error(settings: Settings, article: str) -> str:
    write_issue(settings.root, articles={"01-block": article})
    with pytest.raises(ContentError) as info:
        load_issue(settings, "2026-01-05-test")
    return str(info.value)


LABEL = "issues/2026-01-05-test/articles/01-block.md"


@pytest.mark.parametrize(
    ("article", "expected"),
    [
        (
            PRODUCT.replace("  - name: Serum\n", "  - price: £3\n"),
            f"{LABEL}:8: product 2 has no 'name' (add '  name: ...' to it)",
        ),
        (
            PRODUCT.replace("    price: £10\n", "    image: a.png\n"),
            f"{LABEL}:5: product 1 has an image without 'image_alt' (add '  image_alt: what"
            " the picture shows', for people who cannot see it)",
        ),
        (
            PRODUCT.replace("https://shop.example.com/c", "shop.example.com/c"),
            f"{LABEL}:10: product 3: the link 'shop.example.com/c' is not a web address"
            " (write the shop's full address, starting with https://)",
        ),
        (
            PRODUCT.replace("    price: £10\n", "    prize: £10\n"),
            f"{LABEL}:5: product 1: unknown field 'prize' (did you mean 'price'?)",
        ),
        (
            PRODUCT.replace("kind: product\n", ""),
            f"{LABEL}:3: 'products' belongs to a product block, not to kind 'article'"
            " (add 'kind: product' or remove 'products')",
        ),
        (
            "---\ntitle: R\nkind: routine\nsteps:\n  - when: AM\n",
            f"{LABEL}:5: step 1 has no 'text' (add '  text: what to do')",
        ),
        (
            "---\ntitle: R\nkind: routine\n---\n",
            f"{LABEL}:1: a step block needs 'steps' (add 'steps:' with one '- name: ...'"
            " item per line (see docs/design.md))",
        ),
        (
            "---\ntitle: T\nkind: expert-tip\n---\nQuote.\n",
            f"{LABEL}:1: an expert-tip block needs 'expert' (the expert's name) (add"
            " 'expert: Their Name' and, if you like, 'expert_title: ...')",
        ),
        (
            "---\ntitle: T\nkind: expert-tip\nexpert: A\nphoto: p.png\n---\nQuote.\n",
            f"{LABEL}:5: the expert's photo has no 'photo_alt' (add 'photo_alt: Portrait"
            " of ...', for people who cannot see it)",
        ),
    ],
)
def test_bad_blocks_name_file_and_line(
    file_settings: Settings, article: str, expected: str
) -> None:
    if not article.rstrip().endswith("---") and "kind: expert-tip" not in article:
        article += "---\n"
    assert load_error(file_settings, article) == expected


def test_product_row_renders_cards_buttons_and_text(file_settings: Settings) -> None:
    write_issue(file_settings.root, articles={"01-block": PRODUCT})
    build = build_issue(file_settings, "2026-01-05-test")
    mail = build.compiled.personalise(sample_values(file_settings, "2026-01-05-test"))
    # three products: one row of three columns, each with its own Shop button
    assert mail.html.count("mj-column-per-33-33 nl-product") == 3
    for letter in "abc":
        assert re.search(
            rf'<a href="https://shop.example.com/{letter}"[^>]*>\s*Shop\s*</a>', mail.html
        )
    assert "- Cleanser (£10)\n  Shop: https://shop.example.com/a\n" in mail.text
    assert "@media only screen and (min-width:480px)" in mail.html  # stacks below 480 px
    assert not build.errors


def test_routine_numbers_steps_within_each_group(file_settings: Settings) -> None:
    routine = (
        "---\ntitle: Routine\nkind: routine\nsteps:\n"
        "  - when: AM\n    text: Cleanse\n    product: Gel\n"
        "  - when: AM\n    text: Protect\n"
        "  - when: PM\n    text: Rest\n---\n"
    )
    write_issue(file_settings.root, articles={"01-block": routine})
    build = build_issue(file_settings, "2026-01-05-test")
    text = build.compiled.personalise(sample_values(file_settings, "2026-01-05-test")).text
    assert "AM\n1. Cleanse\n   With: Gel\n2. Protect\n\nPM\n1. Rest\n" in text
    assert build.web_html.count("<ol") == 2
    assert "With: Gel" in build.web_html


def test_the_sample_issue_uses_the_brand_kit_and_social_links(file_settings: Settings) -> None:
    build = build_issue(file_settings, "2026-12-01-microneedling")
    html = build.compiled.personalise(sample_values(file_settings, "x")).html
    assert 'src="http://127.0.0.1:8000/brand/logo.png"' in html
    assert 'alt="Glow Notes"' in html
    for name, label in [("instagram", "Instagram"), ("tiktok", "TikTok"), ("youtube", "YouTube")]:
        assert f'src="http://127.0.0.1:8000/brand/social/{name}.png"' in html
        assert f'alt="Glow Notes on {label}"' in html
    assert html.count(">Shop</a>") == 0 or "Shop" in html
    assert [f.code for f in build.findings if f.level == "error"] == []
    assert image_size(file_settings.root / "brand" / "logo.png") == (480, 128)


def brand_settings(make_settings: Callable[..., Settings], **overrides: object) -> Settings:
    return make_settings(**{f"brand.{k}": v for k, v in overrides.items()})


def test_low_contrast_brand_colours_are_errors_naming_the_line(
    make_settings: Callable[..., Settings], project_dir: Path
) -> None:
    toml = project_dir / "newsletter.toml"
    toml.write_text(toml.read_text().replace('accent = "#8E3354"', 'accent = "#E28FAB"'))
    settings = make_settings()
    found = [str(f) for f in check_brand(settings)]
    line = next(i for i, t in enumerate(toml.read_text().splitlines(), 1) if "#E28FAB" in t)
    assert found[0] == (
        f"newsletter.toml:{line}: brand.accent #E28FAB on brand.surface #FFFFFF has a contrast"
        " of 2.40:1, under WCAG AA's 4.5:1 (headings and labels on the cards)"
        " (make brand.accent darker or lighter against brand.surface)"
    )
    write_issue(settings.root)
    build = build_issue(settings, "2026-01-05-test")
    assert "brand-contrast" in [f.code for f in build.errors]


def test_logo_problems(make_settings: Callable[..., Settings], project_dir: Path) -> None:
    svg = brand_settings(make_settings, logo="brand/logo.svg")
    assert [f.message for f in check_brand(svg)] == [
        "the logo is .svg and email clients do not show that"
    ]
    missing = brand_settings(make_settings, logo="brand/nothing.png")
    assert [f.message for f in check_brand(missing)] == [
        "the logo brand/nothing.png does not exist"
    ]
    outside = brand_settings(make_settings, logo="issues/2026-12-01-microneedling/images/glow.png")
    assert "is not under brand/" in check_brand(outside)[0].message
    tiny = brand_settings(make_settings, logo_width=20)
    assert [f.message for f in check_brand(tiny)] == [
        "brand.logo_width is 20 px; a logo reads well at 80-600"
    ]
    blurry = brand_settings(make_settings, logo_width=500)
    [warning] = check_brand(blurry)
    assert (warning.level, warning.message) == (
        "warning",
        "the logo is 480 px wide but shown at 500 px: blurry",
    )
    shutil.rmtree(project_dir / "brand" / "social")
    assert [f.code for f in check_brand(make_settings())] == ["social-icon"] * 5


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("primary", "pink", "brand.primary: 'pink' is not a colour like '#A23B5F'"),
        ("heading_font", "Playfair Display", "does not end with a generic family"),
        ("button_shape", "blob", "brand.button_shape: Input should be 'pill', 'rounded'"),
    ],
)
def test_bad_brand_settings_are_refused_at_load(
    make_settings: Callable[..., Settings], key: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(**{f"brand.{key}": value})
    assert expected in str(info.value)


def test_button_shape_and_fonts_reach_the_email(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        **{
            "brand.button_shape": "square",
            "brand.heading_font": "'Playfair Display', Georgia, serif",
            "brand.font_css": "https://fonts.example.com/playfair.css",
        }
    )
    build = build_issue(settings, "2026-12-01-microneedling")
    html = build.compiled.personalise(sample_values(settings, "x")).html
    assert "font-family:'Playfair Display', Georgia, serif" in html.replace("&#39;", "'")
    assert "@import url(https://fonts.example.com/playfair.css);" in html
    assert "border-radius:24px" not in html.replace(" ", "")


def test_twelve_blocks_stay_under_gmail_clipping(file_settings: Settings) -> None:
    folder = file_settings.issues_dir / "2026-12-20-twelve"
    shutil.copytree(FIXTURES / EVERY_BLOCK, folder)
    for path in sorted((folder / "articles").glob("*.md")):
        shutil.copyfile(path, path.with_name("1" + path.name))  # six blocks become twelve
    issue = load_issue(file_settings, "2026-12-20-twelve")
    assert len(issue.articles) == 12
    build = build_issue(file_settings, "2026-12-20-twelve")
    html = build.compiled.personalise(sample_values(file_settings, "2026-12-20-twelve")).html
    size = len(html.encode())
    assert size < 102 * 1024, f"{size} bytes"
    assert "size" not in [f.code for f in build.errors]


def test_every_kind_is_documented() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "design.md").read_text()
    for kind in ("article", "tips", "product", "routine", "expert-tip"):
        assert f"### `{kind}`" in guide
        assert f"kind: {kind}" in guide or kind == "article"
    assert ISSUE_MD  # the helper's issue is the one these tests extend
