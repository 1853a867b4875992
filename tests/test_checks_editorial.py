"""`issue check` catches what an editor gets wrong: unsafe link schemes, empty links, an
empty issue, text left from the `issue new` skeleton, raw HTML shown as text."""

from __future__ import annotations

import pytest

from pipeline.config import Settings
from pipeline.content.issues import new_issue
from pipeline.render.build import build_issue
from pipeline.render.checks_editorial import scheme_of
from tests.content.helpers import ISSUE_MD, SUNSCREEN, write_issue

SLUG = "2026-01-05-test"
ISSUE = f"issues/{SLUG}/issue.md"
ARTICLE = f"issues/{SLUG}/articles/01-sun.md"
SCHEME_FIX = "use an https://, http:// or mailto: address; mail clients block or strip the rest"


def findings(settings: Settings, slug: str = SLUG) -> list[str]:
    return [f"{f.level}: {f}" for f in build_issue(settings, slug).findings]


def with_body(body: str) -> str:
    return SUNSCREEN + "\n" + body + "\n"


@pytest.mark.parametrize(
    ("markdown", "scheme", "what", "shown"),
    [
        ("Read [this](javascript:alert(1)).", "javascript", "a link", "javascript:alert(1)"),
        ("Read [this](JavaScript:void(0)).", "javascript", "a link", "JavaScript:void(0)"),
        ("Read [this](&#106;avascript:alert(1)).", "javascript", "a link", "javascript:alert(1)"),
        ("Read [this](vbscript:msgbox).", "vbscript", "a link", "vbscript:msgbox"),
        ("Open [the file](file:///etc/passwd).", "file", "a link", "file:///etc/passwd"),
        ("![a dot](data:image/png;base64,AAAA)", "data", "an image", "data:image/png;base64,AAAA"),
    ],
)
def test_a_link_or_image_with_an_unsafe_scheme_is_an_error(
    file_settings: Settings, markdown: str, scheme: str, what: str, shown: str
) -> None:
    write_issue(file_settings.root, articles={"01-sun": with_body(markdown)})
    # SUNSCREEN's body starts on line 8 of the file; the new paragraph is line 12.
    assert findings(file_settings) == [
        f"error: {ARTICLE}:12: {what} uses the {scheme}: scheme ({shown}) ({SCHEME_FIX})"
    ]


def test_front_matter_links_are_checked_too(file_settings: Settings) -> None:
    article = SUNSCREEN.replace(
        "tags: [skin care]\n",
        "tags: [skin care]\nlink: javascript:alert(1)\nsource_link: 'data:text/html,<b>x</b>'\n",
    )
    write_issue(file_settings.root, articles={"01-sun": article})
    assert findings(file_settings) == [
        f"error: {ARTICLE}:6: link: uses the javascript: scheme (javascript:alert(1)) "
        f"({SCHEME_FIX})",
        f"error: {ARTICLE}:7: source_link: uses the data: scheme (data:text/html,<b>x</b>) "
        f"({SCHEME_FIX})",
    ]


def test_safe_schemes_and_relative_links_pass() -> None:
    assert [scheme_of(u) for u in ("https://a", "http://a", "mailto:a@b", "images/x.png")] == [
        "https",
        "http",
        "mailto",
        None,
    ]
    assert scheme_of("java\tscript:alert(1)") == "javascript"  # as a browser reads it


def test_an_empty_link_target_is_an_error(file_settings: Settings) -> None:
    write_issue(file_settings.root, articles={"01-sun": with_body("See [our shop]().")})
    assert findings(file_settings) == [
        f"error: {ARTICLE}:12: a link has an empty target: [text]() (put the address between "
        "the parentheses, or remove the brackets)"
    ]


def test_an_issue_with_no_articles_and_no_intro_is_an_error(file_settings: Settings) -> None:
    write_issue(file_settings.root, issue_md=ISSUE_MD.replace("Hello from the test intro.", ""))
    (file_settings.root / "issues" / SLUG / "articles" / "01-sun.md").unlink()
    assert findings(file_settings) == [
        f"error: {ISSUE}:1: the issue has no articles and no intro (write an intro below the "
        "front matter, or add articles/*.md)"
    ]


def test_text_left_from_the_skeleton_is_an_error(file_settings: Settings) -> None:
    new_issue(file_settings, "2027-01-10-winter", sample_article=True)
    issue = "issues/2027-01-10-winter/issue.md"
    article = "issues/2027-01-10-winter/articles/01-first-article.md"
    fix = "(replace it with your own text)"
    assert findings(file_settings, "2027-01-10-winter") == [
        f"error: {article}:2: the title is still the sample article's from 'issue new' {fix}",
        f"error: {article}:11: the body is still the sample article's from 'issue new' {fix}",
        f"error: {issue}:2: the subject is still the placeholder from 'issue new' {fix}",
        f"error: {issue}:3: the preheader is still the placeholder from 'issue new' {fix}",
        f"error: {issue}:10: the intro is still the placeholder from 'issue new' {fix}",
    ]


def test_raw_html_is_a_warning(file_settings: Settings) -> None:
    body = 'Our <b>best</b> serum.\n\n<div class="promo">\nSale!\n</div>'
    write_issue(file_settings.root, articles={"01-sun": with_body(body)})
    fix = (
        "(write it in Markdown (**bold**, [link](https://...), lists), or escape the < as \\< "
        "if you meant the character)"
    )
    assert findings(file_settings) == [
        f"warning: {ARTICLE}:12: raw HTML shows as text in the email: <b> {fix}",
        f'warning: {ARTICLE}:14: raw HTML shows as text in the email: <div class="promo"> {fix}',
    ]


def test_template_syntax_in_markdown_is_a_warning(file_settings: Settings) -> None:
    """Only {{ recipient(...) }} is filled in in Markdown; other tags reach readers as
    written. A code block may show them on purpose."""
    body = (
        "Hi {{ subscriber.nme }}, welcome.\n\n"
        "A routine for {{ recipient('first_name', 'every skin type') }} skin.\n\n"
        "{% if vip %}Extra{% endif %}\n\n"
        "```\n{{ shown as code }}\n```"
    )
    write_issue(file_settings.root, articles={"01-sun": with_body(body)})
    fix = (
        "(in Markdown only {{ recipient('field', 'default') }} is filled in, per reader "
        "(docs/audience.md); anything else belongs in a template)"
    )
    assert findings(file_settings) == [
        f"warning: {ARTICLE}:12: {{{{ subscriber.nme }}}} is printed as written: Markdown "
        f"files are not templates {fix}",
        f"warning: {ARTICLE}:16: {{% if vip %}} is printed as written: Markdown files are "
        f"not templates {fix}",
    ]
