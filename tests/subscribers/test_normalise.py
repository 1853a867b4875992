"""Address normalisation: the corpora in tests/data, and properties checked with hypothesis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import SubscriberError
from pipeline.subscribers.normalise import _fast, _full, normalise_email
from tests.conftest import DATA

CORPUS = DATA / "corpus" / "emails"

# Where the corpus and our rules disagree, on purpose:
# - isemail's "valid" test@io has a bare top-level domain; email-validator (and we) want a
#   dot in the domain, as mail to a TLD is not deliverable in practice.
# - python-email-validator's valid cases with quoted local parts or display names
#   ("Name <a@b>") pass there only with allow_quoted_local / allow_display_name; a
#   newsletter wants the bare address, so we refuse them.
KNOWN_VALID_REFUSED = {"test@io"}


def _lines(name: str) -> list[Any]:
    path = CORPUS / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _accepts(address: str) -> str | None:
    try:
        return normalise_email(address)
    except SubscriberError:
        return None


@pytest.mark.parametrize(
    "name", ["isemail/isemail_tests.valid.jsonl", "isemail/isemail_tests-original.valid.jsonl"]
)
def test_isemail_valid_addresses_are_accepted(name: str) -> None:
    refused = [a for a in _lines(name) if _accepts(a) is None]
    assert set(refused) <= KNOWN_VALID_REFUSED


@pytest.mark.parametrize(
    "name",
    ["isemail/isemail_tests.invalid.jsonl", "isemail/isemail_tests-original.invalid.jsonl"],
)
def test_isemail_invalid_addresses_are_refused(name: str) -> None:
    assert [a for a in _lines(name) if _accepts(a) is not None] == []


def test_every_isemail_case_is_answered_without_crashing() -> None:
    for name in ("isemail/isemail_tests.jsonl", "isemail/isemail_tests-original.jsonl"):
        for case in _lines(name):
            result = _accepts(case["address"])
            if case["category"] == "ISEMAIL_ERR":
                assert result is None, case
            elif case["category"] == "ISEMAIL_VALID_CATEGORY" and case["address"] != "test@io":
                assert result is not None, case  # IDNA domains come back in Unicode


def test_email_validator_valid_cases() -> None:
    cases = _lines("pyev/pyev_test_email_valid.jsonl")
    cases += _lines("pyev/pyev_test_email_valid_intl_local_part.jsonl")
    for case in cases:
        address = case["email_input"]
        if '"' in address or "<" in address:
            assert _accepts(address) is None, case  # quoted local parts and display names
        else:
            assert _accepts(address) == case["output"]["normalized"].lower(), case


@pytest.mark.parametrize(
    "name",
    [
        "pyev/pyev_test_email_invalid_syntax.jsonl",
        "pyev/pyev_test_email_invalid_reserved_domain.jsonl",
        "pyev/pyev_test_email_invalid_syntax_strict.jsonl",
        "pyev/pyev_test_email_valid_only_if_quoted_local_part.jsonl",
    ],
)
def test_email_validator_invalid_cases(name: str) -> None:
    assert [c["email_input"] for c in _lines(name) if _accepts(c["email_input"])] == []


def test_unsafe_characters_are_refused() -> None:
    for case in _lines("pyev/pyev_test_email_unsafe_character.jsonl"):
        for address in (case["s"] + "@test.example.com", "test@" + case["s"] + ".example.com"):
            assert _accepts(address) is None, address


def test_pyisemail_cases_never_crash() -> None:
    for case in _lines("pyev/pyev_test_pyisemail_tests.jsonl"):
        result = _accepts(case["email_input"])
        if case["status"].startswith("ISEMAIL_ERR"):
            assert result is None, case


def test_messages() -> None:
    with pytest.raises(SubscriberError) as err:
        normalise_email("  ")
    assert str(err.value) == "the email address is empty"
    with pytest.raises(SubscriberError) as err:
        normalise_email("a" * 500 + "@example.com")
    assert str(err.value).startswith("'" + "a" * 80 + "…' is not a valid email address: ")
    assert normalise_email("\tAnn.Lee+News@Example.COM ") == "ann.lee+news@example.com"


# ---- properties ------------------------------------------------------------------------
ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
local_parts = st.lists(st.text(ATEXT, min_size=1, max_size=12), min_size=1, max_size=4).map(
    ".".join
)
labels = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=10
)
domains = st.lists(labels, min_size=1, max_size=3).map(".".join).map(lambda d: d + ".com")
ascii_addresses = st.builds(lambda lp, d: f"{lp}@{d}", local_parts, domains)
any_addresses = (
    ascii_addresses
    | st.text(max_size=40)
    | st.builds(lambda lp, d: f"{lp}@{d}", st.text(min_size=1, max_size=10), domains)
)


@settings(max_examples=100, deadline=None)
@given(any_addresses)
def test_normalising_is_idempotent(address: str) -> None:
    result = _accepts(address)
    if result is not None:
        assert normalise_email(result) == result


@settings(max_examples=50, deadline=None)
@given(ascii_addresses, st.randoms(use_true_random=False))
def test_another_case_is_the_same_address(address: str, rnd: Any) -> None:
    other = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in address)
    assert _accepts(address) == _accepts(other)


@settings(max_examples=120, deadline=None)
@given(ascii_addresses | st.text("ab.@-_+1", max_size=20))
def test_fast_path_agrees_with_email_validator(address: str) -> None:
    fast = _fast(address)
    if fast is None:
        return
    try:
        slow = validate_email(address, check_deliverability=False, strict=True).normalized
    except EmailNotValidError as exc:
        pytest.fail(f"fast path accepted {address!r}, email-validator says: {exc}")
    assert fast == slow.lower()


def _corpus_addresses() -> list[str]:
    """Every address of the corpora, as written and upper-cased (both must agree)."""
    found: list[str] = []
    for path in sorted(CORPUS.rglob("*.jsonl")):
        for case in _lines(str(path.relative_to(CORPUS))):
            if isinstance(case, str):
                found.append(case)
            elif "address" in case:
                found.append(case["address"])
            elif "email_input" in case:
                found.append(case["email_input"])
            elif "s" in case:
                found += [case["s"] + "@test.example.com", "test@" + case["s"] + ".example.com"]
    found += [a.upper() for a in found]
    return list(dict.fromkeys(a for a in found if a.strip(" \t")))


def _validator(address: str) -> str | None:
    try:
        return _full(address.strip(" \t"), False)
    except SubscriberError:
        return None


def test_fast_path_accepts_only_what_email_validator_accepts_in_the_corpora() -> None:
    """Whatever the fast path answers for a corpus address, email-validator answers the
    same; so normalise_email accepts exactly the addresses email-validator accepts, in the
    same spelling."""
    addresses = _corpus_addresses()
    answered = 0
    for address in addresses:
        full = _validator(address)
        fast = _fast(address.strip(" \t"))
        if fast is not None:
            answered += 1
            assert fast == full, address
        assert _accepts(address) == full, address
    # The corpora hold enough plain addresses for this to mean something.
    assert answered >= 50, answered


def test_fast_path_declines_what_only_email_validator_may_judge() -> None:
    """Addresses that look plain but that email-validator refuses or spells differently
    are left to it: special-use domains, '--' in the domain (IDNA), over-long parts."""
    for address in (
        "ann@example.local",
        "ann@shop.onion",
        "ann@xn--bcher-kva.example",
        "ann@exa--mple.com",
        "a" * 65 + "@example.com",
        "ann@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".com",
    ):
        assert _fast(address) is None, address
    # ... and the shared cache of domains gives each spelling of a domain its own answer.
    assert _fast("Ann@Example.COM") == "ann@example.com"
    assert _fast("bob@EXAMPLE.com") == "bob@example.com"


def test_the_benchmark_addresses_take_the_fast_path() -> None:
    """bench/bench_import.py measures the fast path (its addresses are plain ASCII)."""
    for i in (0, 1, 96, 999_999):
        address = f"amelie.{i}@example{i % 97}.com"
        assert _fast(address) == _validator(address) == address


def test_corpus_is_present() -> None:
    assert Path(CORPUS / "SOURCES.txt").exists()
