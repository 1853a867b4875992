"""Signed, purpose-bound, expiring link tokens; key strength and rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner

from pipeline.config import load_settings
from pipeline.errors import ConfigError, WebError
from pipeline.tokens import (
    Keys,
    check_secret_key,
    link,
    make_token,
    new_public_id,
    new_secret_key,
    read_token,
    signer,
)

KEY = "k" * 40
OLD = "o" * 40
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PID = "0123456789abcdef0123456789abcdef"


def test_round_trip_carries_subject_data_and_time() -> None:
    token = make_token(KEY, "unsubscribe", PID, 7, now=T0)
    data = read_token(KEY, "unsubscribe", token, now=T0 + timedelta(days=1))
    assert (data.purpose, data.subject, data.data, data.edition_id) == (
        "unsubscribe",
        PID,
        "7",
        7,
    )
    assert data.issued_at == T0 and not data.previous_key and data.legacy_id is None
    assert link("https://x.test/", "unsubscribe", token) == f"https://x.test/unsubscribe/{token}"


def test_data_is_inside_the_signature() -> None:
    token = make_token(KEY, "confirm", PID, "news,beauty-tips", now=T0)
    assert read_token(KEY, "confirm", token, now=T0).data == "news,beauty-tips"
    subject, _, issued, sig = token.split(".")
    other = make_token(KEY, "confirm", PID, "news", now=T0).split(".")[1]
    with pytest.raises(WebError, match="not valid"):
        read_token(KEY, "confirm", ".".join([subject, other, issued, sig]), now=T0)


def test_a_token_only_works_for_its_purpose_and_key() -> None:
    token = make_token(KEY, "confirm", PID, now=T0)
    with pytest.raises(WebError, match="not valid"):
        read_token(KEY, "unsubscribe", token, now=T0)
    with pytest.raises(WebError, match="not valid"):
        read_token("x" * 40, "confirm", token, now=T0)
    with pytest.raises(WebError, match="not valid"):
        read_token(KEY, "confirm", token[:-2] + ("xx" if token[-2:] != "xx" else "yy"), now=T0)
    forged_subject = token.replace(PID, "f" * 32)
    with pytest.raises(WebError, match="not valid"):
        read_token(KEY, "confirm", forged_subject, now=T0)


def test_expired_token_is_refused() -> None:
    token = make_token(KEY, "confirm", PID, now=T0)
    assert read_token(KEY, "confirm", token, now=T0 + timedelta(days=6, hours=23)).subject == PID
    with pytest.raises(WebError, match="expired"):
        read_token(KEY, "confirm", token, now=T0 + timedelta(days=7, seconds=1))
    unsub = make_token(KEY, "unsubscribe", PID, now=T0)
    assert read_token(KEY, "unsubscribe", unsub, now=T0 + timedelta(days=399)).subject == PID
    with pytest.raises(WebError, match="expired"):
        read_token(KEY, "unsubscribe", unsub, now=T0 + timedelta(days=401))


def test_rotation_accepts_the_previous_key_until_its_deadline() -> None:
    old_token = make_token(OLD, "preferences", PID, now=T0)
    keys = Keys(KEY, OLD, previous_until=T0 + timedelta(days=30))
    data = read_token(keys, "preferences", old_token, now=T0 + timedelta(days=29))
    assert data.subject == PID and data.previous_key
    with pytest.raises(WebError, match="not valid"):
        read_token(keys, "preferences", old_token, now=T0 + timedelta(days=30))
    # new tokens are signed with the current key only
    new_token = make_token(keys, "preferences", PID, now=T0)
    assert not read_token(KEY, "preferences", new_token, now=T0).previous_key
    with pytest.raises(WebError, match="not valid"):
        read_token(OLD, "preferences", new_token, now=T0)


def test_links_made_before_public_ids_are_read_as_legacy() -> None:
    signer = TimestampSigner(KEY, salt="newsletter.unsubscribe")
    old = signer.sign("42-7").decode()
    data = read_token(KEY, "unsubscribe", old)
    assert (data.legacy_id, data.edition_id, data.subject) == (42, 7, "")
    # confirmation links were never kept compatible (they last 7 days)
    confirm = TimestampSigner(KEY, salt="newsletter.confirm").sign("42").decode()
    with pytest.raises(WebError, match="not valid"):
        read_token(KEY, "confirm", confirm)


def test_random_ids_and_keys() -> None:
    assert len(new_public_id()) == 32 and new_public_id() != new_public_id()
    assert check_secret_key(new_secret_key())


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("change-me", "NEWSLETTER_SECRET_KEY is a placeholder from an example"),
        ("please-change-me-" + "x" * 40, "NEWSLETTER_SECRET_KEY is a placeholder from an example"),
        (
            "short-key",
            "NEWSLETTER_SECRET_KEY is too short (9 bytes; at least 32 are needed so that links "
            "cannot be forged)",
        ),
    ],
)
def test_weak_keys_are_refused_with_how_to_make_one(tmp_path: Path, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, {"NEWSLETTER_SECRET_KEY": key}, root=tmp_path)
    assert str(err.value) == (
        f"{message} (make one with 'newsletter secret' (or: python3 -c \"import secrets; "
        'print(secrets.token_urlsafe(48))") and set it as NEWSLETTER_SECRET_KEY)'
    )


def test_the_placeholder_signature_of_the_old_readme_opens_nothing() -> None:
    """The attack: sign '1' with the README's old example key, as itsdangerous did."""
    forged = TimestampSigner("change-me", salt="newsletter.preferences").sign("1").decode()
    with pytest.raises(WebError, match="not valid"):
        read_token(new_secret_key(), "preferences", forged)


def test_previous_key_comes_from_the_environment_with_its_deadline(tmp_path: Path) -> None:
    (tmp_path / "newsletter.toml").write_text(
        '[security]\nprevious_key_until = "2027-01-31T00:00:00"\n'
    )
    settings = load_settings(
        tmp_path / "newsletter.toml",
        {"NEWSLETTER_SECRET_KEY": KEY, "NEWSLETTER_PREVIOUS_SECRET_KEY": OLD},
    )
    assert settings.keys == Keys(KEY, OLD, datetime(2027, 1, 31, tzinfo=UTC))
    with pytest.raises(ConfigError, match="NEWSLETTER_PREVIOUS_SECRET_KEY is too short"):
        load_settings(
            None,
            {"NEWSLETTER_SECRET_KEY": KEY, "NEWSLETTER_PREVIOUS_SECRET_KEY": "x"},
            root=tmp_path,
        )


def test_the_signature_is_the_standard_hmac_and_odd_data_round_trips() -> None:
    import hmac as std_hmac

    token = make_token(KEY, "track", PID, "a.b/ç", now=T0)
    payload, _, signature = token.rpartition(".")
    key = std_hmac.digest(KEY.encode(), b"newsletter.token.track", "sha256")
    assert signature == std_hmac.digest(key, payload.encode(), "sha256")[:16].hex()
    assert read_token(KEY, "track", token, now=T0).data == "a.b/ç"
    with pytest.raises(WebError, match="not valid"):
        read_token(KEY, "track", "é" + token, now=T0)


def test_no_example_in_the_documentation_holds_a_usable_key() -> None:
    import re

    from tests.conftest import REPO

    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    found = []
    for path in docs:
        for value in re.findall(r"SECRET_KEY=([^\s\"'$][^\n]*)", path.read_text("utf-8")):
            found.append(value)
            with pytest.raises(ConfigError):
                check_secret_key(value.strip())
    assert found  # the examples are there, and none of them works as a key


@pytest.mark.parametrize("data", ["", 42, "beauty-tips,news", "é/odd data", None])
def test_a_signer_makes_the_tokens_of_make_token(data: str | int | None) -> None:
    """The batch signer (recipient links) and make_token agree bit for bit, and its tokens
    read back with their data."""
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    for purpose in ("unsubscribe", "preferences", "track"):
        made = signer(KEY, purpose, data)(PID, now)
        assert made == make_token(KEY, purpose, PID, data, now=now)
        token = read_token(KEY, purpose, made, now=now)
        assert token.data == ("" if data is None else str(data))


def test_a_signer_refuses_what_make_token_refuses() -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        signer(KEY, "unsubscribe")("not.a.subject")
    with pytest.raises(WebError, match="NEWSLETTER_SECRET_KEY"):
        signer("", "unsubscribe")
