"""Rendering an issue: the HTML's promises, the text part, the web version, the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.errors import RenderError
from pipeline.render.build import Build, build_issue, sample_values, write_build
from pipeline.render.email import render_email
from pipeline.render.mjml import FILLER

SAMPLE = "2026-12-01-microneedling"


@pytest.fixture
def sample_build(file_settings: Settings) -> Build:
    return build_issue(file_settings, SAMPLE)


def test_the_sample_issue_builds_without_findings(sample_build: Build) -> None:
    assert sample_build.findings == []
    assert len(sample_build.content_hash) == 64
    assert sample_build.compiled.meta == {"template": "issue", "slug": SAMPLE}


def test_the_html_has_lang_colour_scheme_and_a_preheader_with_filler(sample_build: Build) -> None:
    html = sample_build.compiled.html.fill({})
    assert html.startswith('<!DOCTYPE html><html lang="en"')
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    preheader = re.search(r'<div class="nl-preheader"[^>]*>(.*?)</div>', html)
    assert preheader is not None
    assert preheader.group(1) == (
        "How collagen induction therapy works, who it suits, and how to prepare." + FILLER
    )
    assert "display:none" in html[preheader.start() : preheader.end()]
    # Padding always carries a unit (MRML mis-sizes Outlook columns for a bare 0).
    styles = " ".join(re.findall(r'style="([^"]*)"', html))
    assert not re.findall(r"padding(?:-\w+)?:\s*(?:[\d.]+\s+)*0(?![\w.%])", styles)


def test_per_recipient_fields_are_slots_escaped_per_part(sample_build: Build) -> None:
    compiled = sample_build.compiled
    assert {"first_name", "unsubscribe_url", "preferences_url", "web_url"} <= compiled.fields
    values = {"first_name": '<Zoë & "Bo">', "unsubscribe_url": "https://x.example/u?a=1&b=2"}
    mail = compiled.personalise(values)
    assert "Hi &lt;Zoë &amp; &quot;Bo&quot;&gt;," in mail.html
    assert 'href="https://x.example/u?a=1&amp;b=2"' in mail.html
    assert 'Hi <Zoë & "Bo">,' in mail.text
    assert "Unsubscribe: https://x.example/u?a=1&b=2" in mail.text
    assert compiled.personalise({}).text.count("Hi there,") == 1


def test_the_web_version_has_no_personal_links_and_the_signup_call(
    sample_build: Build,
    file_settings: Settings,
) -> None:
    web = sample_build.web_html
    base = file_settings.newsletter.base_url
    assert "\ue000" not in web
    assert "unsubscribe" not in web.lower() and "preferences" not in web.lower()
    assert "Get updated with beauty resources, tips, and news" in web
    assert f'href="{base}/subscribe"' in web
    assert file_settings.newsletter.postal_address in web
    assert "Hi there," in web


def test_images_link_to_the_archive_and_are_copied_by_write_build(
    sample_build: Build,
    file_settings: Settings,
) -> None:
    base = file_settings.newsletter.base_url
    assert f'src="{base}/archive/{SAMPLE}/images/glow.png"' in sample_build.compiled.html.fill({})
    files = write_build(file_settings, sample_build)
    folder = file_settings.build_dir / SAMPLE
    assert sorted(files) == ["email.html", "email.txt", "web.html"]
    assert (folder / "images" / "glow.png").read_bytes() == (
        file_settings.issues_dir / SAMPLE / "images" / "glow.png"
    ).read_bytes()
    email = (folder / "email.html").read_text()
    assert 'src="images/glow.png"' in email
    assert "Hi Reader," in email and f"{base}/unsubscribe/EXAMPLE-TOKEN" in email
    # Building again replaces the folder in one step and leaves no temporary folders.
    write_build(file_settings, sample_build)
    assert [p.name for p in file_settings.build_dir.iterdir()] == [SAMPLE]


def test_the_text_part_is_written_from_markdown(sample_build: Build) -> None:
    text = sample_build.compiled.text.fill(sample_values_for_text())
    assert "UNDERSTANDING MICRONEEDLING\n===========================" in text
    assert "- acne scars\n- fine lines and wrinkles" in text
    assert "<" not in text
    assert text.rstrip().endswith("Glow Notes, 1 Example Street, London EC1A 1AA, United Kingdom")


def sample_values_for_text() -> dict[str, str]:
    return {"unsubscribe_url": "https://u.example/x"}


def test_sample_values_are_fixed(file_settings: Settings) -> None:
    assert sample_values(file_settings, "x")["first_name"] == "Reader"


# ---- template errors --------------------------------------------------------------------
def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def render_error(settings: Settings) -> str:
    with pytest.raises(RenderError) as info:
        build_issue(settings, SAMPLE)
    return str(info.value)


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().split("\n"), 1) if needle in line)


def test_an_unknown_template_variable_names_template_and_line(file_settings: Settings) -> None:
    blocks = file_settings.templates_dir / "email" / "partials" / "blocks.mjml.j2"
    edit(blocks, "{{ a.title }}", "{{ a.titel }}")
    line = line_of(blocks, "a.titel")
    assert render_error(file_settings) == (
        f"templates/email/partials/blocks.mjml.j2:{line}: unknown template variable: "
        "'dict object' has no attribute 'titel' (check the spelling; see the template "
        "variables in docs/editors-guide.md)"
    )


def test_a_jinja_syntax_error_names_template_and_line(file_settings: Settings) -> None:
    issue = file_settings.templates_dir / "email" / "issue.mjml.j2"
    edit(issue, "{% endfor %}", "{% endfro %}")
    line = line_of(issue, "endfro")
    assert render_error(file_settings) == (
        f"templates/email/issue.mjml.j2:{line}: template syntax error: Encountered unknown "
        "tag 'endfro'. Jinja was looking for the following tags: 'endfor' or 'else'. The "
        "innermost block that needs to be closed is 'for'. (fix the Jinja tag at that line)"
    )


def test_an_unknown_mjml_tag_names_template_and_line(file_settings: Settings) -> None:
    footer = file_settings.templates_dir / "email" / "partials" / "footer.mjml.j2"
    edit(footer, "<mj-column>", "<mj-colum>")
    line = line_of(footer, "<mj-colum>")
    assert render_error(file_settings) == (
        f"templates/email/partials/footer.mjml.j2:{line}: unknown MJML tag <mj-colum> "
        "(see https://documentation.mjml.io for the tags MJML knows)"
    )


def test_an_unclosed_mjml_tag_names_template_and_line(file_settings: Settings) -> None:
    footer = file_settings.templates_dir / "email" / "partials" / "footer.mjml.j2"
    text = footer.read_text()
    last = text.rindex("</mj-column>")
    text = text[:last] + text[last + len("</mj-column>") :]
    footer.write_text(text)
    lines = text.split("\n")
    opened = max(i for i, line in enumerate(lines, 1) if "<mj-column>" in line)
    closing = max(i for i, line in enumerate(lines, 1) if "</mj-section>" in line)
    assert render_error(file_settings) == (
        f"templates/email/partials/footer.mjml.j2:{closing}: </mj-section> closes "
        f"<mj-column> from line {opened} (close <mj-column> first)"
    )


def test_unitless_padding_is_refused(file_settings: Settings) -> None:
    header = file_settings.templates_dir / "email" / "partials" / "header.mjml.j2"
    edit(header, 'padding="14px 0px 22px 0px"', 'padding="14px 0 22px 0px"')
    line = line_of(header, 'padding="14px 0 22px 0px"')
    assert render_error(file_settings) == (
        f'templates/email/partials/header.mjml.j2:{line}: padding="14px 0 22px 0px" has a '
        "number without a unit (write units, e.g. 0px (Outlook mis-sizes columns for a bare 0))"
    )


def test_a_missing_text_template_is_named(file_settings: Settings) -> None:
    (file_settings.templates_dir / "text" / "issue.txt.j2").unlink()
    assert render_error(file_settings) == (
        "templates/text/issue.txt.j2: template 'text/issue.txt.j2' not found "
        "(create templates/text/issue.txt.j2)"
    )


def test_render_email_serves_transactional_templates(file_settings: Settings) -> None:
    email_dir = file_settings.templates_dir / "email"
    (email_dir / "hello.mjml.j2").write_text(
        '{% extends "email/layout.mjml.j2" %}{% block content %}<mj-section><mj-column>'
        "<mj-text>Hello {{ recipient('first_name', 'friend') }}, {{ code }}</mj-text>"
        "</mj-column></mj-section>{% endblock %}"
    )
    (file_settings.templates_dir / "text" / "hello.txt.j2").write_text(
        '{% extends "text/layout.txt.j2" %}{% block content %}Hello '
        "{{ recipient('first_name', 'friend') }}, {{ code }}{% endblock %}"
    )
    compiled = render_email(
        file_settings, "hello", {"code": "<b>42</b>"}, subject="Welcome", preheader="Hi"
    )
    mail = compiled.personalise({"first_name": "Ann"})
    assert "Hello Ann, &lt;b&gt;42&lt;/b&gt;" in mail.html
    assert "Hello Ann, <b>42</b>" in mail.text
    assert mail.subject == "Welcome"
    assert "unsubscribe_url" in compiled.fields


def test_an_unknown_recipient_field_names_template_and_line(file_settings: Settings) -> None:
    blocks = file_settings.templates_dir / "email" / "partials" / "blocks.mjml.j2"
    edit(blocks, "recipient('first_name', 'there')", "recipient('Nick Name', 'there')")
    line = line_of(blocks, "recipient('Nick Name'")
    assert render_error(file_settings) == (
        f"templates/email/partials/blocks.mjml.j2:{line}: unknown recipient field 'Nick Name' "
        "(use one of: first_name, name, email, unsubscribe_url, preferences_url, web_url, "
        "or a custom field in lower case (letters, digits, _), e.g. "
        "recipient('skin_type', 'every skin type'))"
    )
