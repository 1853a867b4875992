"""Fast, correct MIME: a message skeleton built once per edition, joined per recipient.

The skeleton quoted-printable-encodes every static chunk of the compiled text and HTML parts
once, each ending with a soft line break (``=\\r\\n``) so that whatever follows starts a new
encoded line: chunk boundaries are always valid QP and no line exceeds 76 characters. Per
recipient only the small field values are encoded (``binascii.b2a_qp``) and the bytes
joined; headers are formatted by hand (RFC 2047 encoded words for non-ASCII names and
subjects). No Jinja, MJML or ``email``-package encoder touches the body per recipient.

Values that reach a header (name, address, a slotted subject) are refused with CR or LF in
them (``PersonalisationError``): no header injection.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from email.utils import format_datetime

from pipeline.clock import Clock, SystemClock
from pipeline.config import Settings
from pipeline.errors import PersonalisationError
from pipeline.render.personalise import HONEYPOT_TAG, CompiledEdition, CompiledPart, Slot

CRLF = b"\r\n"
_SOFT = b"=\r\n"
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/?^_`{|}~-]+)*\Z")
_PLAIN_SUBJECT = re.compile(r"[!-~]+(?: [!-~]+)*\Z")
_BAD_ADDRESS = re.compile(r"[\r\n<>,;\" \t\\()\[\]:]")
# Printable ASCII but "=" (and no space): QP keeps it as it is, folded after 75 characters
_QP_AS_IS = re.compile(r"[!-<>-~]+\Z")
_QP_LINE = 75


def _qp(data: bytes, *, istext: bool) -> bytes:
    """``data`` QP-encoded (CRLF line ends), ending with a soft break. An "x" after it
    makes b2a_qp fold its last line as any other: at most 75 characters before the soft
    break's "=" (alone, a last line may have 76, and with the "=" it would pass RFC 2045's
    76). The "x" is taken off again."""
    encoded = binascii.b2a_qp(data + b"x", istext=istext)[:-1]
    if not encoded.endswith(b"=\n"):
        encoded += b"=\n"
    return encoded.replace(b"\n", CRLF)


def _qp_static(text: str) -> bytes:
    """QP-encode a static chunk (line breaks kept as CRLF), ending with a soft break."""
    if not text:
        return b""
    return _qp(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8"), istext=True)


def _qp_value(text: str) -> bytes:
    """QP-encode one recipient's value exactly (line breaks encoded), ending with a soft
    break. A value QP leaves as it is (a tracked link, most names) is only folded, every
    75 characters: byte for byte what ``b2a_qp`` gives, at a fraction of its cost (it
    was half of a message's building)."""
    if not text:
        return b""
    if _QP_AS_IS.match(text):
        data = text.encode("ascii")
        if len(data) <= _QP_LINE:
            return data + _SOFT
        return _SOFT.join([data[i : i + _QP_LINE] for i in range(0, len(data), _QP_LINE)]) + _SOFT
    return _qp(text.encode("utf-8"), istext=False)


def _no_newlines(what: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise PersonalisationError(
            f"the {what} holds a line break and would reach a header",
            fix="remove CR/LF characters from the subscriber's data",
        )


def encoded_words(text: str) -> str:
    """``text`` as RFC 2047 base64 encoded words, each at most 75 characters, folded."""
    words: list[str] = []
    chunk: list[bytes] = []
    size = 0
    for char in text:
        raw = char.encode("utf-8")
        if size + len(raw) > 45 and chunk:
            words.append("=?utf-8?b?" + base64.b64encode(b"".join(chunk)).decode() + "?=")
            chunk, size = [], 0
        chunk.append(raw)
        size += len(raw)
    if chunk:
        words.append("=?utf-8?b?" + base64.b64encode(b"".join(chunk)).decode() + "?=")
    return "\r\n ".join(words)


def format_subject(subject: str) -> str:
    """A Subject header value: plain when it is short printable ASCII, else encoded."""
    _no_newlines("subject", subject)
    if len(subject) <= 70 and _PLAIN_SUBJECT.match(subject) and "=?" not in subject:
        return subject
    return encoded_words(subject)


def format_address(name: str, email: str) -> str:
    """``Name <email>`` with the name as atoms, a quoted string, or encoded words; runs of
    spaces in the name are one space (mail readers show them so anyway)."""
    _no_newlines("address", email)
    _no_newlines("name", name)
    name = " ".join(name.split())
    if not email or _BAD_ADDRESS.search(email) or email.count("@") != 1:
        raise PersonalisationError(
            f"{email!r} cannot be used as an email address in a header",
            fix="correct the subscriber's address",
        )
    if not name:
        return email
    if len(name) <= 60 and "=?" not in name:
        if _ATOMS.match(name):
            return f"{name} <{email}>"
        if name.isascii() and name.isprintable():
            quoted = name.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{quoted}" <{email}>'
    # One encoded word, even past RFC 2047's advised 75 characters: parsers (Python's
    # among them) put a space between adjacent encoded words inside a display name.
    word = "=?utf-8?b?" + base64.b64encode(name.encode()).decode() + "?="
    if len(word) > 900:  # cannot happen for names of up to 200 characters
        word = encoded_words(name)
    return f"{word} <{email}>"


class _Date:
    """The Date header, formatted at most once per second, in the newsletter's time zone:
    its day is the day the web version and the archive show (``pipeline.content.dates``)."""

    def __init__(self, tz: tzinfo, clock: Clock | None = None) -> None:
        self.tz = tz
        # The system's clock is read as time.time() (a datetime per message cost more
        # than the rest of the headers); an injected clock (a test's) is asked.
        self.clock = None if isinstance(clock, SystemClock) else clock
        self.second = -1
        self.value = ""

    def __call__(self) -> str:
        now = int(self.clock.now().timestamp() if self.clock else time.time())
        if now != self.second:
            self.second = now
            self.value = format_datetime(datetime.fromtimestamp(now, self.tz))
        return self.value


#: A recipient value that replaces the List-Unsubscribe mailto address (a VERP address in
#: the bounce mailbox; see pipeline/bounces/verp.py). Not a template field.
MAILTO_KEY = "list_unsubscribe_mailto"


_Fills = list[tuple[CompiledPart, Slot, list[int]]]


def _layout(body: list[bytes | tuple[CompiledPart, Slot]]) -> tuple[list[bytes], _Fills]:
    """The body as static bytes with empty places, and for each distinct slot the places
    (counted after the 4 header items ``build`` puts first) that take its encoded value."""
    template: list[bytes] = []
    fills: dict[int, tuple[CompiledPart, Slot, list[int]]] = {}
    for item in body:
        if isinstance(item, bytes):
            template.append(item)
            continue
        part, slot = item
        fills.setdefault(id(slot), (part, slot, []))[2].append(4 + len(template))
        template.append(b"")
    return template, list(fills.values())


def smtp_data(message: bytes) -> bytes:
    """``message`` (CRLF line endings) dot-stuffed and ended by the final ``.`` line."""
    stuffed = _stuff_piece(message)
    if not stuffed.endswith(CRLF):
        stuffed += CRLF
    return stuffed + b".\r\n"


def _stuff_piece(piece: bytes) -> bytes:
    """A piece that starts a line, dot-stuffed."""
    if b"." not in piece:
        return piece
    piece = piece.replace(b"\r\n.", b"\r\n..")
    return b"." + piece if piece.startswith(b".") else piece


def _stuffed_layout(
    layout: tuple[list[bytes], _Fills], static_head: bytes
) -> tuple[list[bytes], _Fills] | None:
    """The layout with its static chunks dot-stuffed, or None when a piece of the body
    might not start a line (then ``build_for_smtp`` stuffs the whole message). Every
    piece starts a line when the headers and every static chunk end with CRLF: each QP
    chunk and each encoded value ends with a (soft) line break."""
    template, fills = layout
    if not static_head.endswith(CRLF) or not all(c.endswith(CRLF) for c in template if c):
        return None
    return [_stuff_piece(c) for c in template], fills


def _fill(
    out: list[bytes], fills: _Fills, values: Mapping[str, str], *, stuff: bool = False
) -> None:
    """Put each slot's encoded value (dot-stuffed with ``stuff``) in its places of ``out``:
    each distinct slot is encoded once."""
    for part, slot, positions in fills:
        encoded = _qp_value(part.value(slot, values))
        if stuff:
            encoded = _stuff_piece(encoded)
        for position in positions:
            out[position] = encoded


class MessageSkeleton:
    """Everything about an edition's messages that does not depend on the recipient."""

    def __init__(
        self,
        settings: Settings,
        compiled: CompiledEdition,
        *,
        slug: str = "",
        lists: Sequence[str] = (),
        signer: Callable[[bytes], bytes] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.compiled = compiled
        self.slug = slug
        self.base_url = settings.newsletter.base_url
        self.sender_email = settings.sender.email
        self.domain = settings.sender.email.rpartition("@")[2]
        self.mailto = settings.sending.list_unsubscribe_mailto or f"unsubscribe@{self.domain}"
        self.signer = signer
        self._date = _Date(settings.newsletter.tz, clock)
        list_id = f"{lists[0]}.{self.domain}" if lists else f"newsletter.{self.domain}"
        self.boundary = "=_nl_" + os.urandom(12).hex()
        # Message-IDs: a random 96-bit prefix per skeleton and a counter, unique without a
        # call to os.urandom per message (one per message cost a second per million).
        self._id_prefix = os.urandom(12).hex()
        self._ids = itertools.count(1)
        head = [
            f"From: {format_address(settings.sender.name, settings.sender.email)}",
        ]
        if settings.sender.reply_to:
            head.append(f"Reply-To: {settings.sender.reply_to}")
        head += [
            "MIME-Version: 1.0",
            f"List-Id: <{list_id}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
        if slug:
            head.append(f"X-Edition: {slug}")
        head.append(f'Content-Type: multipart/alternative; boundary="{self.boundary}"')
        self._static_head = ("\r\n".join(head) + "\r\n").encode("ascii")
        self._static_subject = (
            f"Subject: {format_subject(compiled.subject.fill({}))}\r\n".encode()
            if compiled.subject.static
            else None
        )
        self._mailto_tail = f">,\r\n <mailto:{self.mailto}?subject=unsubscribe>\r\n".encode()
        # Two bodies: one for tracked recipients (a tracked link is the recipient's
        # ``click_base``, encoded once per message, then a static "/index"), one for the
        # others (tracked links are their static targets, and there is no pixel).
        self.tracked = any(
            isinstance(p, Slot) and (p.index >= 0 or p.field == "open_url")
            for part in (compiled.text, compiled.html)
            for p in part.pieces
        )
        self._body = self._make_body(tracked=True)
        self._plain_body = self._make_body(tracked=False) if self.tracked else self._body
        self._layout = _layout(self._body)
        self._plain_layout = _layout(self._plain_body) if self.tracked else self._layout
        self._stuffed = _stuffed_layout(self._layout, self._static_head)
        self._plain_stuffed = (
            _stuffed_layout(self._plain_layout, self._static_head)
            if self.tracked
            else self._stuffed
        )

    def _make_body(self, *, tracked: bool) -> list[bytes | tuple[CompiledPart, Slot]]:
        """The body: bytes, or (part, slot) pairs filled per recipient."""
        body: list[bytes | tuple[CompiledPart, Slot]] = []
        b = self.boundary
        compiled = self.compiled
        for part, ctype in ((compiled.text, "text/plain"), (compiled.html, "text/html")):
            body.append(
                f'\r\n--{b}\r\nContent-Type: {ctype}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode()
            )
            click = Slot("click_base")  # one per part: encoded once per message
            for piece in part.pieces:
                if isinstance(piece, str):
                    body.append(_qp_static(piece))
                elif piece.index >= 0:
                    if not tracked:
                        body.append(_qp_static(piece.default))
                    elif piece.index == 0:  # the honeypot: a hidden <a> tag
                        before, after = HONEYPOT_TAG.split("{}")
                        body += [_qp_static(before), (part, click), _qp_static("/0" + after)]
                    else:
                        body.append((part, click))
                        body.append(_qp_static(f"/{piece.index}"))
                elif piece.field == "open_url" and not tracked:
                    continue
                else:
                    body.append((part, piece))
        body.append(f"\r\n--{b}--\r\n".encode())
        # Merge adjacent static chunks so the per-recipient join is short.
        merged: list[bytes | tuple[CompiledPart, Slot]] = []
        for item in body:
            if isinstance(item, bytes) and merged and isinstance(merged[-1], bytes):
                merged[-1] = merged[-1] + item
            else:
                merged.append(item)
        return merged

    def check(self, email: str, name: str, values: Mapping[str, str]) -> None:
        """Raise PersonalisationError if this recipient's headers cannot be written (the
        same checks as ``build``, without building the body)."""
        _no_newlines("unsubscribe URL", values.get("unsubscribe_url", ""))
        format_address(name, email)
        if self._static_subject is None:
            format_subject(self.compiled.subject.fill(values))

    def new_message_id(self) -> str:
        return f"<{self._id_prefix}.{next(self._ids):x}@{self.domain}>"

    def _headers(
        self, email: str, name: str, values: Mapping[str, str], message_id: str | None
    ) -> tuple[bytes, bytes, bytes]:
        """The recipient's header lines: To, Date, Message-ID, List-Unsubscribe (head and
        tail) and the Subject."""
        unsubscribe = values.get("unsubscribe_url", "")
        _no_newlines("unsubscribe URL", unsubscribe)
        if self._static_subject is not None:
            subject = self._static_subject
        else:
            filled = self.compiled.subject.fill(values)
            subject = f"Subject: {format_subject(filled)}\r\n".encode()
        head = (
            f"To: {format_address(name, email)}\r\n"
            f"Date: {self._date()}\r\n"
            f"Message-ID: {message_id or self.new_message_id()}\r\n"
            f"List-Unsubscribe: <{unsubscribe}"
        ).encode()
        mailto = values.get(MAILTO_KEY)
        if mailto:
            _no_newlines("unsubscribe address", mailto)
            tail = f">,\r\n <mailto:{mailto}?subject=unsubscribe>\r\n".encode()
        else:
            tail = self._mailto_tail
        return head, tail, subject

    def build(
        self,
        email: str,
        name: str,
        values: Mapping[str, str],
        *,
        message_id: str | None = None,
    ) -> bytes:
        """One recipient's complete message (CRLF line endings)."""
        head, tail, subject = self._headers(email, name, values, message_id)
        template, fills = self._layout if values.get("click_base") else self._plain_layout
        out: list[bytes] = [head, tail, subject, self._static_head, *template]
        _fill(out, fills, values)
        message = b"".join(out)
        if self.signer is not None:
            message = self.signer(message) + message
        return message

    def build_for_smtp(
        self,
        email: str,
        name: str,
        values: Mapping[str, str],
        *,
        message_id: str | None = None,
    ) -> bytes:
        """The message as SMTP DATA carries it: dot-stuffed (RFC 5321 4.5.2) and ended by
        the final ``.`` line. The static chunks were stuffed once, here only each
        recipient's values are (scanning the whole 60 KB message per recipient cost more
        than building it). A DKIM-signed message is signed as built, then stuffed."""
        if self.signer is not None or self._stuffed is None or self._plain_stuffed is None:
            return smtp_data(self.build(email, name, values, message_id=message_id))
        head, tail, subject = self._headers(email, name, values, message_id)
        stuffed = self._stuffed if values.get("click_base") else self._plain_stuffed
        assert stuffed is not None
        template, fills = stuffed
        out: list[bytes] = [head, tail, subject, self._static_head, *template, b".\r\n"]
        _fill(out, fills, values, stuff=True)
        return b"".join(out)
