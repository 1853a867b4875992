"""The personalisation compiler: chunks compiled once, joined per recipient."""

from __future__ import annotations

import pytest

from pipeline.errors import PersonalisationError
from pipeline.render.personalise import (
    CompiledEdition,
    compile_edition,
    compile_part,
    jinja_recipient,
    placeholder,
)

NASTY = ["<script>&", "O\"Brien 'x'", "Zoë 💄 Ünïcødé", "李小龙"]


@pytest.mark.parametrize("name", NASTY)
def test_html_values_are_escaped_and_text_values_are_raw(name: str) -> None:
    html_part = compile_part(
        "html", f'<p title="{placeholder("name")}">Hi {placeholder("name")}</p>'
    )
    text_part = compile_part("text", f"Hi {placeholder('name')}!")
    out = html_part.fill({"name": name})
    assert "<script>" not in out and f"Hi {name}!" == text_part.fill({"name": name})
    import html

    assert html.unescape(out) == f'<p title="{name}">Hi {name}</p>'


def test_defaults_apply_to_empty_values_and_are_escaped_once() -> None:
    recipient = jinja_recipient(autoescape=True)
    part = compile_part("html", "Hi " + recipient("first_name", "R&D fans"))
    assert part.fill({"first_name": ""}) == "Hi R&amp;D fans"
    assert part.fill({"first_name": "Ann"}) == "Hi Ann"


def test_line_breaks_never_reach_the_subject() -> None:
    edition = compile_edition(f"News for {placeholder('first_name')}", "<p>x</p>", "x")
    with pytest.raises(PersonalisationError, match="Subject header"):
        edition.personalise({"first_name": "Eve\r\nBcc: victim@example.com"})
    with pytest.raises(PersonalisationError, match="one line"):
        compile_edition("Two\nlines", "", "")


def test_unknown_fields_and_broken_markers_are_refused() -> None:
    with pytest.raises(PersonalisationError, match="unknown recipient field"):
        placeholder("Pass word")
    with pytest.raises(PersonalisationError, match="broken recipient placeholder"):
        compile_part("html", placeholder("name")[:-1])


def test_compiled_edition_survives_storage() -> None:
    edition = compile_edition(
        f"Hi {placeholder('first_name', 'there')}",
        f'<a href="{placeholder("unsubscribe_url")}">Unsubscribe</a>',
        f"Unsubscribe: {placeholder('unsubscribe_url')}",
        preheader="Pre",
        meta={"slug": "s"},
    )
    again = CompiledEdition.from_bytes(edition.to_bytes())
    assert again == edition
    values = {"first_name": "Zoë", "unsubscribe_url": "https://x.test/u/a?b=1&c=2"}
    out = again.personalise(values)
    assert out.subject == "Hi Zoë"
    assert out.html == '<a href="https://x.test/u/a?b=1&amp;c=2">Unsubscribe</a>'
    assert out.text == "Unsubscribe: https://x.test/u/a?b=1&c=2"
    assert again.fields == {"first_name", "unsubscribe_url"}
