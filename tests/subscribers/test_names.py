"""Names: what the public forms accept, and what an email may show (one rule for the
greeting and the To display name)."""

from __future__ import annotations

import pytest

from pipeline.subscribers.names import MAX_NAME, check_signup_name, display_name

LETTERS_ONLY = "Please write your name with letters only (no links or addresses)."


@pytest.mark.parametrize(
    "name",
    [
        "https://evil.example/verify-your-account",
        "HTTPS://EVIL.EXAMPLE",
        "evil.example",
        "visit bit.ly/abc now",
        "www.example.org",
        "Ann (ann@example.com)",
        "bob＠example．com",  # fullwidth @ and dot
        "evil．example",
        "mailto:bob",
        "see evil.example",
    ],
)
def test_a_name_that_is_or_holds_a_link_or_address_is_never_shown(name: str) -> None:
    assert display_name(name) == ""


@pytest.mark.parametrize(
    "name",
    ["Ann Lee", "J. R. R. Tolkien", "Ann-Marie", "O’Brien", "Zoë", "山田 太郎", "Dr. Who", ""],
)
def test_ordinary_names_are_shown_as_they_are(name: str) -> None:
    assert display_name(name) == name


def test_the_form_takes_letters_marks_spaces_and_a_little_punctuation() -> None:
    assert check_signup_name("  Ann \t Lee ") == ("Ann Lee", "")
    assert check_signup_name("José María O’Neil-Smith") == ("José María O’Neil-Smith", "")
    assert check_signup_name("https://evil.example/verify")[1] == LETTERS_ONLY
    assert check_signup_name("evil.example")[1] == LETTERS_ONLY
    assert check_signup_name("Ann <b>")[1] == LETTERS_ONLY
    assert check_signup_name("R2D2")[1] == LETTERS_ONLY
    long = "A" * (MAX_NAME + 1)
    assert check_signup_name(long) == (
        "A" * MAX_NAME,
        f"Please keep your name under {MAX_NAME} characters.",
    )
