from __future__ import annotations

import binascii
import email
import email.policy
import re
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.errors import PersonalisationError
from pipeline.render.personalise import CompiledEdition
from pipeline.sending.mime import MessageSkeleton, _qp_value, encoded_words, smtp_data
from pipeline.sending.recipient_values import recipient_values
from tests.sending.conftest import sample_compiled

NAMES = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"),
        blacklist_characters="\ue000\ue001\ue002",
    ),
    max_size=120,
) | st.sampled_from(
    ['Ann <&> "Q"', "Zoë Ünal", "💄 Glow", "O'Neil, Jr.", "=?utf-8?q?x?=", "a" * 150, "  "]
)


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _content(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def _check(
    skeleton: MessageSkeleton, compiled: CompiledEdition, settings: Settings, name: str
) -> None:
    values = recipient_values(settings, "p7", "ann@example.org", name, 3)
    data = skeleton.build("ann@example.org", name, values, message_id="<m1@glownotes.example.com>")
    expected = compiled.personalise(values)
    msg = _parse(data)
    assert msg["Subject"] == expected.subject
    assert _content(msg, "html") == expected.html
    assert _content(msg, "plain") == expected.text.replace("\r\n", "\n")
    if name.strip():
        assert msg["To"].addresses[0].display_name == " ".join(name.split())
    assert msg["To"].addresses[0].addr_spec == "ann@example.org"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    body = data.partition(b"\r\n\r\n")[2]  # quoted-printable: lines of at most 76
    assert all(len(line) <= 76 for line in body.split(b"\r\n")), max(body.split(b"\r\n"), key=len)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")


@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES)
def test_every_message_parses_back_to_the_personalised_parts(
    file_settings: Settings, name: str
) -> None:
    compiled = sample_compiled()
    skeleton = MessageSkeleton(file_settings, compiled, slug="s", lists=["beauty-tips"])
    _check(skeleton, compiled, file_settings, name)


@hsettings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.text(alphabet=st.sampled_from(".\n\r a=é-x"), max_size=300),
    name=st.sampled_from(["Ann", "", ".Dot", "Zoë"]),
)
def test_the_smtp_form_is_the_message_dot_stuffed(
    file_settings: Settings, first: str, name: str
) -> None:
    """build_for_smtp stuffs only the recipient's values (the static chunks were stuffed
    once): the same bytes as stuffing the whole message, whatever the values hold (long
    values are wrapped by quoted-printable, so a wrapped line may start with a dot)."""
    compiled = sample_compiled(subject_slot=False)  # line breaks never reach a header
    skeleton = MessageSkeleton(
        file_settings, compiled, slug="s", lists=["beauty-tips"], clock=FixedClock()
    )
    values = recipient_values(file_settings, "p7", "ann@example.org", name, 3)
    values["first_name"] = first
    mid = "<m1@glownotes.example.com>"
    built = skeleton.build("ann@example.org", name, values, message_id=mid)
    wire = skeleton.build_for_smtp("ann@example.org", name, values, message_id=mid)
    assert wire == smtp_data(built)
    assert wire.endswith(b"\r\n.\r\n") and b"\r\n.\r\n" not in wire[:-5]


def test_headers_for_compliance(file_settings: Settings) -> None:
    compiled = sample_compiled(subject_slot=False)
    skeleton = MessageSkeleton(file_settings, compiled, slug="2026-12-01-x", lists=["beauty-tips"])
    values = recipient_values(file_settings, "p7", "ann@example.org", "Ann", 3)
    first = _parse(skeleton.build("ann@example.org", "Ann", values))
    second = _parse(skeleton.build("ann@example.org", "Ann", values))
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Message-ID"].endswith("@glownotes.example.com>")
    assert first["Date"]
    assert first["From"] == "Glow Notes <hello@glownotes.example.com>"
    assert first["Reply-To"] == "editors@glownotes.example.com"
    assert first["List-Unsubscribe"] == (
        f"<{values['unsubscribe_url']}>, "
        "<mailto:unsubscribe@glownotes.example.com?subject=unsubscribe>"
    )
    assert values["unsubscribe_url"].startswith("http://127.0.0.1:8000/unsubscribe/")
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["List-Id"] == "<beauty-tips.glownotes.example.com>"
    assert first["X-Edition"] == "2026-12-01-x"
    assert first["MIME-Version"] == "1.0"
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]


def test_mailto_comes_from_settings(make_settings: object) -> None:
    settings = make_settings(**{"sending.list_unsubscribe_mailto": "leave@lists.example.com"})  # type: ignore[operator]
    skeleton = MessageSkeleton(settings, sample_compiled())
    values = recipient_values(settings, "p1", "a@example.org", "", None)
    msg = _parse(skeleton.build("a@example.org", "", values))
    assert msg["List-Unsubscribe"].endswith("<mailto:leave@lists.example.com?subject=unsubscribe>")


@pytest.mark.parametrize(
    ("name", "address", "message"),
    [
        (
            "Ann\r\nBcc: x@evil.example",
            "ann@example.org",
            "the name holds a line break and would reach a header "
            "(remove CR/LF characters from the subscriber's data)",
        ),
        (
            "Ann",
            "ann@example.org\nBcc: x@evil.example",
            "the address holds a line break and would reach a header "
            "(remove CR/LF characters from the subscriber's data)",
        ),
        (
            "Ann",
            "ann@example.org>, <x@evil.example",
            "'ann@example.org>, <x@evil.example' cannot be used as an email address in a header "
            "(correct the subscriber's address)",
        ),
    ],
)
def test_header_injection_is_refused(
    file_settings: Settings, name: str, address: str, message: str
) -> None:
    skeleton = MessageSkeleton(file_settings, sample_compiled())
    values = recipient_values(file_settings, "p1", address, name, None)
    with pytest.raises(PersonalisationError) as err:
        skeleton.build(address, name, values)
    assert str(err.value) == message


def test_subject_slot_with_line_break_is_refused(file_settings: Settings) -> None:
    skeleton = MessageSkeleton(file_settings, sample_compiled())
    values = recipient_values(file_settings, "p1", "a@example.org", "Ann", None)
    values["first_name"] = "Ann\nBcc: x"
    with pytest.raises(PersonalisationError) as err:
        skeleton.build("a@example.org", "Ann", values)
    assert str(err.value) == (
        "the value of 'first_name' holds a line break and would reach the Subject header "
        "(remove CR/LF characters from the subscriber's data)"
    )


def test_encoded_words_stay_short() -> None:
    words = encoded_words("Zoë " * 100).split("\r\n ")
    assert len(words) > 1
    assert all(len(w) <= 75 for w in words)


def test_message_ids_are_unique_within_and_across_skeletons(file_settings: Settings) -> None:
    """A random prefix per skeleton and a counter: no two messages share an id, whether
    they come from one skeleton (one worker) or from several (several workers)."""
    compiled = sample_compiled()
    skeletons = [
        MessageSkeleton(file_settings, compiled, slug="s", lists=["beauty-tips"]) for _ in range(3)
    ]
    ids = [s.new_message_id() for s in skeletons for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    pattern = re.compile(r"<[0-9a-f]{24}\.[0-9a-f]+@glownotes\.example\.com>")
    assert all(pattern.fullmatch(i) for i in ids)
    # RFC 5322 msg-id: dot-atom-text on the left; no two skeletons share a prefix
    assert len({i.split(".", 1)[0] for i in ids}) == 3


@given(
    text=st.text(alphabet=st.sampled_from("ab.~!<>-/:?&%=é \t\n\r"), max_size=400)
    | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=400)
)
def test_a_value_is_quoted_printable_that_decodes_back_and_keeps_to_76(text: str) -> None:
    """_qp_value: whatever the value, the encoding decodes back to it and ends with a soft
    break. A value QP leaves as it is (printable ASCII but "=", a tracked link) is folded
    into 75-character pieces, each line then 76 with its "=": the fast path, which must be
    what the general path would give."""
    encoded = _qp_value(text)
    if not text:
        assert encoded == b""
        return
    assert encoded.endswith(b"=\r\n")
    assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")) == text.encode()
    if all(33 <= ord(c) <= 126 and c != "=" for c in text):
        lines = encoded.split(b"\r\n")[:-1]
        assert [line[:-1] for line in lines] == [
            text[i : i + 75].encode() for i in range(0, len(text), 75)
        ]
        assert all(len(line) <= 76 for line in lines)


def test_the_sample_issue_keeps_quoted_printable_lines_to_76(file_settings: Settings) -> None:
    """The repository's sample issue, tracked links and all: every body line of the
    message is at most 76 characters (RFC 2045), the last line of each static chunk too,
    which b2a_qp alone leaves at 76 before the soft break's "=" is added."""
    from pipeline.render.build import build_issue
    from pipeline.tracking.plan import index_links, tracking_values

    slug = "2026-12-01-microneedling"
    compiled, _ = index_links(
        file_settings, build_issue(file_settings, slug).compiled, slug, ["beauty-tips"]
    )
    skeleton = MessageSkeleton(file_settings, compiled, slug=slug, lists=["beauty-tips"])
    public_id = "0123456789abcdef0123456789abcdef"
    values = recipient_values(file_settings, public_id, "ann@example.org", "Ann", 1)
    values.update(tracking_values(file_settings, public_id, 1))
    data = skeleton.build("ann@example.org", "Ann", values)
    lines = data.partition(b"\r\n\r\n")[2].split(b"\r\n")
    assert all(len(line) <= 76 for line in lines), max(lines, key=len)
    assert _content(_parse(data), "html") == compiled.personalise(values).html
