from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline.feeds.sanitize import html_to_text, safe_url, sanitize_html, url_scheme
from tests.feeds.safety import assert_safe, problems
from tests.feeds.samples import HOSTILE_HTML


@pytest.mark.parametrize("fragment", HOSTILE_HTML)
def test_hostile_fragments_come_out_clean(fragment: str) -> None:
    cleaned = sanitize_html(fragment, base_url="https://news.example.com/a/b")
    assert_safe(cleaned, fragment)


@pytest.mark.parametrize("fragment", HOSTILE_HTML)
def test_hostile_fragments_clean_with_data_images_allowed(fragment: str) -> None:
    cleaned = sanitize_html(fragment, base_url="https://x.example/", allow_data_images=True)
    assert_safe(cleaned, fragment)


def test_safety_check_catches_what_it_should() -> None:
    assert problems('<a href="&#106;avascript:alert(1)">x</a>')
    assert problems("<p onclick=x>")
    assert problems('<p style="x:expression(1)">')
    assert not problems('<a href="https://ok.example/" rel="noopener">fine</a>')


def test_text_and_safe_markup_survive() -> None:
    cleaned = sanitize_html(
        "<script>alert(1)</script><p>after <b>bold</b> <em>em</em></p><ul><li>one</li></ul>"
    )
    assert cleaned == "<p>after <b>bold</b> <em>em</em></p><ul><li>one</li></ul>"


def test_links_get_noopener_and_relative_urls_are_resolved() -> None:
    cleaned = sanitize_html(
        '<a href="../c?x=1">up</a> <img src="pic.png" alt="p"> <a href="mailto:a@b.example">m</a>',
        base_url="https://news.example.com/a/b/post",
    )
    assert cleaned == (
        '<a href="https://news.example.com/a/c?x=1" rel="noopener">up</a>'
        ' <img src="https://news.example.com/a/b/pic.png" alt="p">'
        ' <a href="mailto:a@b.example" rel="noopener">m</a>'
    )


def test_relative_urls_are_dropped_without_a_base() -> None:
    assert sanitize_html('<a href="/x">x</a><img src="y.png" alt="y">') == (
        '<a rel="noopener">x</a><img alt="y">'
    )


def test_javascript_link_loses_its_href_only() -> None:
    cleaned = sanitize_html('<a href="&#x6A;avascript:alert(1)">click</a>')
    assert cleaned == '<a rel="noopener">click</a>'


def test_data_images_only_when_allowed() -> None:
    image = '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">'
    assert sanitize_html(image) == '<img alt="dot">'
    assert sanitize_html(image, allow_data_images=True) == image
    svg = '<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="s">'
    assert sanitize_html(svg, allow_data_images=True) == '<img alt="s">'
    link = '<a href="data:image/png;base64,iVBORw0KGgo=">x</a>'
    assert sanitize_html(link, allow_data_images=True) == '<a rel="noopener">x</a>'


def test_url_scheme_reads_like_a_browser() -> None:
    assert url_scheme("  JaVa\tScRipt:alert(1)") == "javascript"
    assert url_scheme("&#106;avascript:x") == "javascript"
    assert url_scheme("/relative:colon") == ""
    assert safe_url("https://ok.example/") == "https://ok.example/"
    assert safe_url("vbscript:x") is None


def test_html_to_text() -> None:
    assert html_to_text("<p>Tom &amp; <b>Jerry</b></p><script>x()</script>\n\n<p>again</p>") == (
        "Tom & Jerry again"
    )


PIECES = [
    "<", ">", "/", '"', "'", "=", " ", "\t", "\x00", "&#", "&#x", ";", "&lt;", "&gt;",
    "script", "SCRIPT", "ScRiPt", "style", "iframe", "object", "embed", "form", "svg",
    "img", "a", "p", "src", "href", "onerror", "OnLoad", "onclick", "style=",
    "javascript:", "JaVaScRiPt:", "java\tscript:", "vbscript:", "data:", "expression(",
    "106", "6A", "alert(1)", "url(", "<!--", "-->", "<![CDATA[", "]]>", "x",
]  # fmt: skip


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.booleans())
def test_any_soup_of_hostile_pieces_comes_out_clean(pieces: list[str], data_images: bool) -> None:
    soup = "".join(pieces)
    cleaned = sanitize_html(soup, base_url="https://b.example/p", allow_data_images=data_images)
    assert_safe(cleaned, soup)
