"""Loading issue folders: the sample issue, and every kind of bad input with its message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.content.issues import list_issues, load_issue, new_issue, write_article
from pipeline.errors import ContentError
from tests.content.helpers import CLEANSER, ISSUE_MD, SUNSCREEN, write_issue

SAMPLE = "2026-12-01-microneedling"


def message(settings: Settings, slug: str) -> str:
    with pytest.raises(ContentError) as info:
        load_issue(settings, slug)
    return str(info.value)


def test_the_sample_issue_loads_in_order(file_settings: Settings) -> None:
    issue = load_issue(file_settings, SAMPLE)
    assert issue.subject.startswith("Microneedling")
    assert issue.lists == ("beauty-tips",)
    assert [a.name for a in issue.articles] == [
        "01-microneedling",
        "03-routine",
        "04-aftercare-shelf",
        "05-expert-tip",
        "02-tips",
    ]
    lead, routine, shelf, tip, _tips = issue.articles
    assert lead.image == "images/glow.png" and lead.image_alt
    assert lead.line_of("image") == 4
    assert [a.kind for a in issue.articles[1:]] == ["routine", "product", "expert-tip", "tips"]
    assert [s.when for s in routine.steps] == ["Before your session"] * 3 + [
        "After your session"
    ] * 3
    assert routine.steps[2].product == "A gentle cleanser"
    assert [p.name for p in shelf.products] == [
        "Gentle cleanser",
        "Hydrating serum",
        "Sun protection",
    ]
    assert all(p.image_alt and p.link.startswith("https://") for p in shelf.products)
    assert tip.expert is not None and tip.expert.photo_alt
    assert "qualified professional" in tip.body_md
    assert "consult a qualified professional" in lead.body_md.lower()
    assert "including:" not in lead.body_md


def test_articles_default_to_every_file_in_name_order(file_settings: Settings) -> None:
    write_issue(file_settings.root, articles={"02-b": CLEANSER, "01-a": SUNSCREEN})
    issue = load_issue(file_settings, "2026-01-05-test")
    assert [a.name for a in issue.articles] == ["01-a", "02-b"]
    assert issue.articles[0].tags == ("skin care",)
    assert issue.articles[0].image_alt is None


def test_send_at_is_read_in_the_newsletter_time_zone(file_settings: Settings) -> None:
    md = ISSUE_MD.replace("lists:", "send_at: 2026-07-01 09:00\nlists:")
    write_issue(file_settings.root, issue_md=md)
    issue = load_issue(file_settings, "2026-01-05-test")
    assert issue.send_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # London is UTC+1 in July


BAD_INPUT = [
    (
        ISSUE_MD.replace("subject:", "subjet:"),
        None,
        "issues/2026-01-05-test/issue.md:2: unknown front-matter key 'subjet' "
        "(did you mean 'subject'?)",
    ),
    (
        ISSUE_MD.replace("preheader: Short and sweet.", "preheader: [unclosed"),
        None,
        "issues/2026-01-05-test/issue.md:4: invalid front matter: did not find expected ',' or ']' "
        "(write one 'key: value' per line; quote values that hold "
        "': ' or start with '[')",
    ),
    (
        "subject: no fence\n",
        None,
        "issues/2026-01-05-test/issue.md:1: no front matter (start the file with a line "
        "'---', then the keys, then another '---')",
    ),
    (
        "---\nsubject: x\nlists: [beauty-tips]\n",
        None,
        "issues/2026-01-05-test/issue.md:1: the front matter is not closed "
        "(end the front matter with a line '---')",
    ),
    (
        ISSUE_MD.replace(
            "lists: [beauty-tips]", "lists: [beauty-tips]\narticles:\n  - 01-sun\n  - 02-gone"
        ),
        None,
        "issues/2026-01-05-test/issue.md:7: article '02-gone' not found (looked for "
        "articles/02-gone.md) (create the file or remove the name from 'articles')",
    ),
    (
        ISSUE_MD.replace("[beauty-tips]", "[beauty-tips, nope]"),
        None,
        "issues/2026-01-05-test/issue.md:4: unknown list 'nope' "
        "(lists in newsletter.toml: beauty-tips, news)",
    ),
    (
        ISSUE_MD.replace("lists:", "template: fancy\nlists:"),
        None,
        "issues/2026-01-05-test/issue.md:4: template 'fancy' not found (looked for "
        "templates/email/fancy.mjml.j2) (use 'issue' or create the template)",
    ),
    (
        ISSUE_MD,
        SUNSCREEN.replace("title:", "titel:"),
        "issues/2026-01-05-test/articles/01-sun.md:2: unknown front-matter key 'titel' "
        "(did you mean 'title'?)",
    ),
    (
        ISSUE_MD,
        SUNSCREEN.replace("title: Sunscreen every day\n", ""),
        "issues/2026-01-05-test/articles/01-sun.md:1: missing front-matter key 'title' "
        "(add a line 'title: ...' between the '---' lines)",
    ),
    (
        ISSUE_MD,
        SUNSCREEN.replace("author: Ana", "kind: gallery"),
        "issues/2026-01-05-test/articles/01-sun.md:4: unknown kind 'gallery' "
        "(use one of: article, tips, product, routine, expert-tip)",
    ),
    (
        ISSUE_MD.replace("lists:", "send_at: next tuesday\nlists:"),
        None,
        "issues/2026-01-05-test/issue.md:4: send_at is not a date and time "
        "(write it like 2026-12-01 09:00 (in the newsletter's time zone))",
    ),
]


@pytest.mark.parametrize(("issue_md", "article", "expected"), BAD_INPUT)
def test_bad_input_names_file_and_line(
    file_settings: Settings, issue_md: str, article: str | None, expected: str
) -> None:
    write_issue(file_settings.root, issue_md=issue_md, articles={"01-sun": article or SUNSCREEN})
    assert message(file_settings, "2026-01-05-test") == expected


def test_a_file_that_is_not_utf8_names_byte_and_line(file_settings: Settings) -> None:
    latin1 = SUNSCREEN.replace("Ana", "Zoë").encode("latin-1")
    write_issue(file_settings.root, articles={"01-sun": latin1})
    offset = latin1.index(b"\xeb")
    assert message(file_settings, "2026-01-05-test") == (
        f"issues/2026-01-05-test/articles/01-sun.md:4: not UTF-8 (byte {offset} is 0xeb) "
        "(save the file as UTF-8 in your editor)"
    )


def test_a_missing_issue_says_how_to_find_one(file_settings: Settings) -> None:
    assert message(file_settings, "2026-02-02-nothing") == (
        "issues/2026-02-02-nothing: issue '2026-02-02-nothing' not found "
        "(see 'newsletter issue list', or create it with 'newsletter issue new SLUG')"
    )


def test_list_issues_shows_a_broken_folder_without_stopping(file_settings: Settings) -> None:
    write_issue(file_settings.root, issue_md=ISSUE_MD.replace("subject:", "subjet:"))
    rows = {r.slug: r for r in list_issues(file_settings)}
    assert rows[SAMPLE].articles == 5 and not rows[SAMPLE].error
    assert "unknown front-matter key 'subjet'" in rows["2026-01-05-test"].error


def test_new_issue_and_write_article_make_a_loadable_issue(file_settings: Settings) -> None:
    folder = new_issue(file_settings, "2026-03-01-spring", subject="Spring: what's new?")
    path = write_article(
        folder,
        "01-spf",
        {"title": "SPF: yes, again", "tags": ("sun",), "link": "https://example.com/spf"},
        "Body text.\n",
    )
    assert path == folder / "articles" / "01-spf.md"
    issue = load_issue(file_settings, "2026-03-01-spring")
    assert issue.subject == "Spring: what's new?"
    assert [(a.title, a.tags, a.link) for a in issue.articles] == [
        ("SPF: yes, again", ("sun",), "https://example.com/spf")
    ]
    with pytest.raises(ContentError, match="the article already exists"):
        write_article(folder, "01-spf.md", {"title": "again"}, "")
    with pytest.raises(ContentError, match="unknown front-matter key 'colour'"):
        write_article(folder, "02-x", {"title": "x", "colour": "red"}, "")
    with pytest.raises(ContentError, match="issue '2026-03-01-spring' already exists"):
        new_issue(file_settings, "2026-03-01-spring")


def test_new_issue_refuses_a_bad_slug(file_settings: Settings) -> None:
    with pytest.raises(ContentError) as info:
        new_issue(file_settings, "Bad Slug")
    assert str(info.value) == (
        "'Bad Slug' is not a valid issue name "
        "(use lower-case letters, digits and '-', e.g. 2026-12-01-microneedling)"
    )


def test_sample_folder_exists(file_settings: Settings) -> None:
    assert Path(file_settings.issues_dir / SAMPLE / "images" / "glow.png").is_file()
