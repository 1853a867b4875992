"""`issue check`: each check on crafted issues, with the exact finding (file and line)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.render.build import build_issue
from pipeline.render.checks import Finding
from pipeline.render.personalise import compile_edition
from pipeline.sending.editions import build_checked
from pipeline.store.tables import editions
from tests.conftest import DATA, REPO
from tests.content.helpers import CLEANSER, SUNSCREEN, write_issue

SLUG = "2026-01-05-test"
PNG = REPO / "issues" / "2026-12-01-microneedling" / "images" / "glow.png"


def findings(settings: Settings, engine: Engine | None = None) -> list[str]:
    return [f"{f.level}: {f}" for f in build_checked(settings, engine, SLUG).findings]


def seed_rewrites() -> list[str]:
    text = (DATA / "seed" / "microneedling.txt").read_text(encoding="utf-8")
    return text.split("Understanding Microneedling")


def article(title: str, body: str) -> str:
    return f"---\ntitle: {title}\n---\n\n{body}\n"


def test_a_clean_issue_has_no_findings(file_settings: Settings) -> None:
    write_issue(file_settings.root, articles={"01-sun": SUNSCREEN, "02-clean": CLEANSER})
    assert findings(file_settings) == []


def test_content_problems_are_found_with_file_and_line(file_settings: Settings) -> None:
    issue_md = (
        "---\n"
        "subject: " + "A very long subject line " * 4 + "\n"
        "lists: [beauty-tips]\n"
        "---\n"
        "\n"
        "Hello. Read [our old site](http://old.example.com).\n"
    )
    bad = (
        "---\n"
        "title: Benefits\n"
        "image: images/missing.png\n"
        "link: http://example.com/more\n"
        "---\n"
        "\n"
        "It can address a wide range of skin concerns, including:\n"
        "\n"
        "## Safety and side effects\n"
        "\n"
        "A picture: ![](images/there.png)\n"
    )
    write_issue(
        file_settings.root,
        issue_md=issue_md,
        articles={"01-bad": bad},
        files={"images/there.png": PNG.read_bytes()},
    )
    a = f"issues/{SLUG}/articles/01-bad.md"
    i = f"issues/{SLUG}/issue.md"
    assert findings(file_settings) == [
        f"error: {a}:3: image 'images/missing.png' not found "
        "(put the file in the issue folder or fix the path)",
        f"error: {a}:3: image 'images/missing.png' has no alt text (describe the picture for "
        "people who cannot see it: image_alt: ... or ![text](...))",
        f"error: {a}:7: this paragraph introduces a list that never comes: 'It can address a "
        "wide range of skin concerns, including:' (add the list after it, or rewrite the "
        "sentence)",
        f"error: {a}:11: image 'images/there.png' has no alt text (describe the picture for "
        "people who cannot see it: image_alt: ... or ![text](...))",
        f"warning: {a}:4: link uses http:// (http://example.com/more) "
        "(use https:// so mail clients do not flag it)",
        f"warning: {i}:1: no preheader (add 'preheader: ...', the line inboxes show next to "
        "the subject)",
        f"warning: {i}:2: the subject has 99 characters; inboxes cut it after about 78 "
        "(shorten it)",
        f"warning: {i}:6: link uses http:// (http://old.example.com) "
        "(use https:// so mail clients do not flag it)",
    ]


def test_the_seed_dangling_paragraph_is_caught(file_settings: Settings) -> None:
    rewrite = seed_rewrites()[3]
    body = rewrite.replace("\n", "\n\n")  # the seed's lines are paragraphs
    write_issue(file_settings.root, articles={"01-seed": article("Seed", body)})
    found = [f for f in build_issue(file_settings, SLUG).findings if f.code == "dangling-list"]
    assert [(f.path, f.line) for f in found] == [(f"issues/{SLUG}/articles/01-seed.md", 15)]
    assert "including:" in found[0].message


def test_two_seed_rewrites_are_near_duplicates(file_settings: Settings) -> None:
    first, second = seed_rewrites()[1:3]
    write_issue(
        file_settings.root,
        articles={"01-a": article("One", first), "02-b": article("Two", second)},
    )
    dupes = [f for f in build_issue(file_settings, SLUG).findings if f.code == "duplicate"]
    assert len(dupes) == 1
    assert str(dupes[0]).startswith(
        f"issues/{SLUG}/articles/02-b.md:1: near-duplicate of 01-a.md (similarity 0."
    )
    assert str(dupes[0]).endswith("(keep one of the two articles, or merge them)")


def test_two_different_skin_care_articles_are_not(file_settings: Settings) -> None:
    write_issue(file_settings.root, articles={"01-sun": SUNSCREEN, "02-clean": CLEANSER})
    assert not [f for f in build_issue(file_settings, SLUG).findings if f.code == "duplicate"]


def test_an_article_sent_in_a_recent_issue_is_flagged(
    make_settings: Callable[..., Settings], engine: Engine, db_url: str
) -> None:
    settings = make_settings(**{"database.url": db_url})
    rewrites = seed_rewrites()
    sent = compile_edition("Old", "<p>old</p>", "Old issue\n\n" + rewrites[1]).to_bytes()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for slug, when in (
            ("2026-old", now - timedelta(days=5)),
            ("ancient", now - timedelta(days=90)),
        ):
            conn.execute(
                insert(editions).values(
                    slug=slug,
                    status="sent",
                    subject="Old",
                    content_hash="0" * 64,
                    lists=["beauty-tips"],
                    compiled=sent,
                    frozen_at=when,
                    finished_at=when,
                )
            )
    write_issue(settings.root, articles={"01-a": article("Again", rewrites[2])})
    result = build_checked(settings, engine, SLUG)
    dupes: list[Finding] = [f for f in result.findings if f.code == "duplicate"]
    assert [f.message.split(" (similarity")[0] for f in dupes] == [
        "near-duplicate of an article sent in '2026-old'"
    ]


def test_no_unsubscribe_link_or_postal_address_is_an_error(file_settings: Settings) -> None:
    write_issue(file_settings.root)
    footer = file_settings.templates_dir / "email" / "partials" / "footer.mjml.j2"
    text = footer.read_text()
    text = text.replace("{{ recipient('unsubscribe_url') }}", "#")
    text = text.replace("{{ newsletter.postal_address }}", "")
    footer.write_text(text)
    assert findings(file_settings) == [
        "error: templates/email/issue.mjml.j2:1: no unsubscribe link in the html part "
        "(add {{ recipient('unsubscribe_url') }} to the footer)",
        "error: templates/email/issue.mjml.j2:1: the postal address is not in the HTML part "
        "(add {{ newsletter.postal_address }} to the footer)",
    ]


def test_an_empty_postal_address_is_an_error(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**{"newsletter.postal_address": ""})
    write_issue(settings.root)
    line = config_line(settings, "postal_address")
    assert findings(settings) == [
        f"error: newsletter.toml:{line}: no postal address "
        "(set newsletter.postal_address (the law requires it in every email))"
    ]


def test_a_public_http_base_url_is_a_warning(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**{"newsletter.base_url": "http://news.example.com"})
    write_issue(settings.root)
    line = config_line(settings, "base_url")
    assert findings(settings) == [
        f"warning: newsletter.toml:{line}: link uses http:// (http://news.example.com) "
        "(use https:// so mail clients do not flag it)"
    ]


def config_line(settings: Settings, key: str) -> int:
    assert settings.config_path is not None
    lines = settings.config_path.read_text().split("\n")
    return next(i for i, t in enumerate(lines, 1) if t.startswith(key))


def test_html_over_102_kb_is_an_error(file_settings: Settings) -> None:
    body = "\n\n".join(
        f"Paragraph {i} about serums, oils and masks number {i}." for i in range(1400)
    )
    write_issue(file_settings.root, articles={"01-long": article("Long", body)})
    found = [str(f) for f in build_issue(file_settings, SLUG).findings if f.code == "size"]
    assert len(found) == 1
    assert found[0].startswith(f"issues/{SLUG}/issue.md:1: the HTML is ")
    assert found[0].endswith(
        " KB; Gmail clips emails over 102 KB (shorten the issue or move articles to the next one)"
    )


def test_low_contrast_text_is_a_warning_naming_the_template_line(file_settings: Settings) -> None:
    write_issue(file_settings.root)
    blocks = file_settings.templates_dir / "email" / "partials" / "blocks.mjml.j2"
    text = blocks.read_text()
    text = text.replace(
        'font-size="30px" line-height="1.25" color="{{ brand.text }}"', 'color="#C9C9C9"'
    )
    blocks.write_text(text)
    line = next(i for i, t in enumerate(text.split("\n"), 1) if "#C9C9C9" in t)
    assert findings(file_settings) == [
        f"warning: templates/email/partials/blocks.mjml.j2:{line}: text colour #C9C9C9 on "
        '#FFFFFF has a contrast of 1.66:1 ("Sunscreen every day") (use a darker text colour; '
        "WCAG asks for at least 4.5:1)"
    ]


def test_check_issue_alone_finds_nothing_in_a_clean_issue(file_settings: Settings) -> None:
    from pipeline.render.checks import check_issue

    write_issue(file_settings.root)
    build = build_issue(file_settings, SLUG)
    assert check_issue(file_settings, build.issue, build.compiled, recent=()) == []


def test_recent_texts_follow_the_injected_clock(
    make_settings: Callable[..., Settings], engine: Engine
) -> None:
    from pipeline.sending.editions import recent_texts

    sent = compile_edition("Old", "<p>old</p>", "Old issue text").to_bytes()
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(editions).values(
                slug="2026-old",
                status="sent",
                subject="Old",
                content_hash="0" * 64,
                lists=["beauty-tips"],
                compiled=sent,
                frozen_at=when,
                finished_at=when,
            )
        )
    soon = FixedClock(when + timedelta(days=59))
    late = FixedClock(when + timedelta(days=61))
    assert recent_texts(engine, SLUG, soon) == [("2026-old", "Old issue text")]
    assert recent_texts(engine, "2026-old", soon) == []
    assert recent_texts(engine, SLUG, late) == []
