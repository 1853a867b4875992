"""Render once, personalise cheaply: the personalisation compiler.

Templates call the Jinja global ``recipient(field, default="")``. It emits a *placeholder*
(private-use code points around the field name) instead of a value, so Jinja and MJML run
once per edition. ``compile_part`` then splits each rendered part (subject, HTML, text) into
static chunks and slots; ``CompiledPart.fill`` joins them for one recipient, escaping each
value for its part (HTML-escaped in HTML, raw in text, refused with CR/LF in the subject).

The same slots map to SendGrid substitutions (``CompiledPart.with_tokens``), so a provider
can personalise too.

    >>> part = compile_part("html", "<p>Hi " + placeholder("first_name", "there") + "</p>")
    >>> part.fill({"first_name": "<Ann>"})
    '<p>Hi &lt;Ann&gt;</p>'
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup

from pipeline.errors import PersonalisationError

Kind = Literal["subject", "html", "text"]

#: Built-in per-recipient fields a template may use through ``recipient(...)``. Any other
#: lower-case name (``recipient('skin_type', 'every skin type')``) is a custom field from the
#: subscriber's attributes; ``issue check`` and freezing check it against the audience.
FIELDS: tuple[str, ...] = (
    "first_name",
    "name",
    "email",
    "unsubscribe_url",
    "preferences_url",
    "web_url",
)

#: Per-recipient values the tracking stage adds (``pipeline.tracking``); templates never
#: call them. ``click_base`` is ``{base_url}/l/{recipient token}``: a tracked link is that
#: plus ``/{index}``. ``open_url`` is the open pixel's address. A recipient without them
#: (tracking off for them) gets every link direct and no pixel.
TRACKING_FIELDS: tuple[str, ...] = ("click_base", "open_url")

#: The honeypot (tracked link 0): a link no person can see or reach; scanners follow it.
HONEYPOT_TAG = (
    '<a href="{}" style="display:none;font-size:0;line-height:0;max-height:0;'
    'overflow:hidden;mso-hide:all" aria-hidden="true" tabindex="-1"></a>'
)

#: The open pixel: an invisible 1x1 image at the end of the HTML part.
PIXEL_TAG = (
    '<img src="{}" width="1" height="1" alt="" '
    'style="display:block;width:1px;height:1px;border:0;opacity:0" />'
)

_OPEN, _SEP, _CLOSE = "\ue000", "\ue002", "\ue001"
_SLOT = re.compile(f"{_OPEN}([a-z_][a-z0-9_]*)(?:{_SEP}([^{_CLOSE}]*))?{_CLOSE}")
FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}\Z")


def check_field_name(field_name: object) -> str:
    """``field_name`` if it can name a field (built-in or custom); else PersonalisationError."""
    if not isinstance(field_name, str) or not FIELD_NAME.match(field_name):
        raise PersonalisationError(
            f"unknown recipient field {field_name!r}",
            fix=f"use one of: {', '.join(FIELDS)}, or a custom field in lower case "
            "(letters, digits, _), e.g. recipient('skin_type', 'every skin type')",
        )
    return field_name


def custom_fields(fields: frozenset[str] | set[str]) -> set[str]:
    """The custom (attribute) fields among ``fields``."""
    return set(fields) - set(FIELDS)


def placeholder(field_name: str, default: str = "") -> str:
    """The marker that stands for ``field_name`` until a recipient is known."""
    check_field_name(field_name)
    if any(c in default for c in (_OPEN, _SEP, _CLOSE)):
        raise PersonalisationError("a default value may not contain private-use markers")
    return (
        f"{_OPEN}{field_name}{_SEP}{default}{_CLOSE}"
        if default
        else (f"{_OPEN}{field_name}{_CLOSE}")
    )


def jinja_recipient(autoescape: bool) -> Callable[..., str]:
    """The ``recipient`` global for a Jinja environment (HTML-escaping defaults if needed)."""

    def recipient(field_name: str, default: str = "") -> str:
        if autoescape:
            return Markup(placeholder(field_name, html.escape(default, quote=True)))
        return placeholder(field_name, default)

    return recipient


@dataclass(frozen=True)
class Slot:
    """A place in a part that takes one recipient's value.

    A *tracked link* is a slot with ``index >= 0`` (field ``click_base``): its value is
    ``{click_base}/{index}``, or the link's own target (``default``) for a recipient who is
    not tracked. Index 0 is the honeypot: a whole hidden ``<a>`` tag, or nothing. The open
    pixel is the slot ``open_url`` in the HTML part: a whole ``<img>`` tag, or nothing."""

    field: str
    default: str = ""  # already escaped for the part's kind
    index: int = -1  # a tracked link's index in the edition's link table


@dataclass(frozen=True)
class CompiledPart:
    """One rendered part split into static text and slots, in order."""

    kind: Kind
    pieces: tuple[str | Slot, ...]

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(p.field for p in self.pieces if isinstance(p, Slot))

    @property
    def static(self) -> bool:
        return not any(isinstance(p, Slot) for p in self.pieces)

    def fill(self, values: Mapping[str, str]) -> str:
        """This part for one recipient."""
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            out.append(self.value(piece, values))
        return "".join(out)

    def value(self, slot: Slot, values: Mapping[str, str]) -> str:
        """The text that goes into ``slot`` for these values, escaped for this part."""
        raw = values.get(slot.field) or ""
        if slot.index >= 0:  # a tracked link: through the redirect, or direct
            if not raw:
                return slot.default
            url = f"{html.escape(raw, quote=True) if self.kind == 'html' else raw}/{slot.index}"
            return HONEYPOT_TAG.format(url) if slot.index == 0 else url
        if slot.field == "open_url" and self.kind == "html":
            return PIXEL_TAG.format(html.escape(raw, quote=True)) if raw else ""
        if not raw:
            return slot.default
        if self.kind == "html":
            return html.escape(raw, quote=True)
        if self.kind == "subject" and ("\r" in raw or "\n" in raw):
            raise PersonalisationError(
                f"the value of {slot.field!r} holds a line break and would reach the "
                "Subject header",
                fix="remove CR/LF characters from the subscriber's data",
            )
        return raw

    def with_tokens(self, token: Callable[[Slot], str]) -> str:
        """The part with every slot replaced by ``token(slot)`` (e.g. SendGrid keys)."""
        return "".join(p if isinstance(p, str) else token(p) for p in self.pieces)


def compile_part(kind: Kind, rendered: str) -> CompiledPart:
    """Split a rendered part into static chunks and slots."""
    pieces: list[str | Slot] = []
    pos = 0
    for match in _SLOT.finditer(rendered):
        if match.start() > pos:
            pieces.append(rendered[pos : match.start()])
        pieces.append(Slot(match.group(1), match.group(2) or ""))
        pos = match.end()
    if pos < len(rendered):
        pieces.append(rendered[pos:])
    leftover = next(
        (c for c in (_OPEN, _SEP, _CLOSE) if any(c in p for p in pieces if isinstance(p, str))),
        None,
    )
    if leftover is not None:
        raise PersonalisationError(
            f"a broken recipient placeholder is left in the {kind} part",
            fix="call recipient('field') on its own; do not filter or slice its output",
        )
    return CompiledPart(kind, tuple(pieces))


@dataclass(frozen=True)
class Personalised:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class CompiledEdition:
    """The three parts of an edition, compiled once; stored frozen in the database."""

    subject: CompiledPart
    html: CompiledPart
    text: CompiledPart
    preheader: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def fields(self) -> frozenset[str]:
        return self.subject.fields | self.html.fields | self.text.fields

    def personalise(self, values: Mapping[str, str]) -> Personalised:
        """One recipient's subject, HTML and text, by joining chunks (no templating)."""
        return Personalised(
            self.subject.fill(values), self.html.fill(values), self.text.fill(values)
        )

    # ---- storage -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        def dump(part: CompiledPart) -> list[object]:
            return [
                p
                if isinstance(p, str)
                else ([p.field, p.default] if p.index < 0 else [p.field, p.default, p.index])
                for p in part.pieces
            ]

        doc = {
            "version": 1,
            "subject": dump(self.subject),
            "html": dump(self.html),
            "text": dump(self.text),
            "preheader": self.preheader,
            "meta": self.meta,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> CompiledEdition:
        doc = json.loads(data.decode("utf-8"))

        def load(kind: Kind) -> CompiledPart:
            return CompiledPart(
                kind,
                tuple(p if isinstance(p, str) else Slot(*p) for p in doc[kind]),
            )

        return cls(
            load("subject"), load("html"), load("text"), doc.get("preheader", ""), doc["meta"]
        )


def compile_edition(
    subject: str,
    html_body: str,
    text_body: str,
    *,
    preheader: str = "",
    meta: Mapping[str, str] | None = None,
) -> CompiledEdition:
    """Compile the three rendered parts of an edition."""
    compiled_subject = compile_part("subject", subject)
    if "\r" in subject or "\n" in subject:
        raise PersonalisationError(
            "the subject holds a line break", fix="write the subject on one line"
        )
    return CompiledEdition(
        compiled_subject,
        compile_part("html", html_body),
        compile_part("text", text_body),
        preheader,
        dict(meta or {}),
    )
