"""Link indexing at freeze time: every link of the rendered HTML becomes a tracked slot.

``track_edition`` takes the compiled edition (after the checks, as it is frozen) and
returns a new one in which

- every ``<a href="http(s)://...">`` of the HTML part (the text part's URLs too, with
  ``[tracking] text_clicks``) is a tracked-link slot with an index (1, 2, ...): per
  recipient it becomes ``{base_url}/l/{token}/{index}``, or the target itself for a person
  who turned tracking off. Links the pipeline makes per recipient (unsubscribe,
  preferences, web version) are slots already and are never tracked; nor are ``mailto:``,
  ``tel:``, in-page anchors, and links to the newsletter's own subscription pages;
- index 0 is a *honeypot*: a link no person can see or reach (``display:none``,
  ``aria-hidden``, no text, out of the tab order) at the top of the body. Link scanners
  follow every ``href`` of a message; a person cannot click it. A click on it marks the
  delivery's burst of clicks as machine (``pipeline.tracking.classify``);
- the open pixel slot closes the body (``[tracking] opens``).

UTM tags (``[tracking] utm``) are added to each target here, once per edition, never
replacing a tag the link already has. The link table (index, target, text) is stored with
the edition (``edition_links``): the redirect reads its target from there, never from the
request.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.render.personalise import CompiledEdition, CompiledPart, Slot

_ANCHOR = re.compile(
    r"""<a\b(?P<before>[^>]*?)\bhref\s*=\s*(?P<q>["'])(?P<href>[^"']*)(?P=q)(?P<after>[^>]*)>""",
    re.IGNORECASE,
)
_TEXT_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_TAG = re.compile(r"<[^>]+>")
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
#: The redirect paths of the app's own pages: never tracked.
OWN_PATHS = ("/unsubscribe/", "/preferences/", "/confirm/", "/l/", "/o/")
HONEYPOT = 0


@dataclass(frozen=True)
class Link:
    """One tracked link of an edition."""

    index: int
    url: str  # the target, with UTM tags when configured
    text: str  # the link's visible text ('' for the honeypot and text-part links)
    kind: str = "link"  # link | honeypot | text


@dataclass(frozen=True)
class TrackingPlan:
    """What to track in one edition (from ``[tracking]``, the lists and the issue)."""

    base_url: str
    clicks: bool = True
    opens: bool = True
    text_clicks: bool = False
    honeypot: bool = True
    utm: Mapping[str, str] | None = None  # utm_source/utm_medium/utm_campaign -> value


def add_utm(url: str, tags: Mapping[str, str] | None) -> str:
    """``url`` with the UTM ``tags`` it does not have yet (an existing tag is kept)."""
    if not tags:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    have = {k.lower() for k, _ in query}
    extra = [(k, v) for k, v in tags.items() if v and k.lower() not in have]
    if not extra:
        return url
    joined = (parts.query + "&" if parts.query else "") + urlencode(extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


def is_trackable(url: str, base_url: str) -> bool:
    """True for an http(s) link that is not one of the newsletter's own personal pages."""
    if not url.lower().startswith(("http://", "https://")):
        return False
    if url.startswith(base_url):
        rest = url[len(base_url) :]
        return not any(rest.startswith(p) for p in OWN_PATHS)
    return True


def link_text(fragment: str) -> str:
    """The visible text of an anchor's inner HTML, on one line, at most 200 characters."""
    inner = fragment.split("</a", 1)[0] if "</a" in fragment.lower() else ""
    alt = re.search(r'alt="([^"]*)"', inner)
    text = " ".join(html.unescape(_TAG.sub(" ", inner)).split())
    if not text and alt:
        text = html.unescape(alt.group(1)).strip()
    return text[:200]


class _Indexer:
    def __init__(self, plan: TrackingPlan) -> None:
        self.plan = plan
        self.links: list[Link] = []
        self.next = 1  # index 0 is the honeypot's

    def add(self, url: str, text: str, kind: str = "link") -> int:
        index = HONEYPOT if kind == "honeypot" else self.next
        if kind != "honeypot":
            self.next += 1
        self.links.append(Link(index, url, text, kind))
        return index

    # ---- the HTML part ----------------------------------------------------------------
    def html_chunk(self, chunk: str, *, first: bool, last: bool) -> list[str | Slot]:
        out: list[str | Slot] = []
        pos = 0
        if first and self.plan.honeypot and self.plan.clicks:
            opened = _BODY_OPEN.search(chunk)
            if opened is not None:
                out.append(chunk[: opened.end()])
                pos = opened.end()
                target = self.plan.base_url + "/"
                # the whole hidden <a> tag (personalise.HONEYPOT_TAG), or nothing
                out.append(Slot("click_base", "", self.add(target, "", "honeypot")))
        close = _BODY_CLOSE.search(chunk, pos) if last and self.plan.opens else None
        end = close.start() if close is not None else len(chunk)
        if self.plan.clicks or self.plan.utm:
            for match in _ANCHOR.finditer(chunk, pos, end):
                url = html.unescape(match.group("href")).strip()
                if not is_trackable(url, self.plan.base_url):
                    continue
                target = add_utm(url, self.plan.utm)
                out.append(chunk[pos : match.start("href")])
                pos = match.end("href")
                if not self.plan.clicks:  # UTM tags only
                    out.append(html.escape(target, quote=True))
                    continue
                index = self.add(target, link_text(chunk[match.end() : match.end() + 2000]))
                out.append(Slot("click_base", html.escape(target, quote=True), index))
        out.append(chunk[pos:end])
        if close is not None:
            out.append(Slot("open_url"))
            out.append(chunk[end:])
        return [p for p in out if p != ""]

    # ---- the text part ----------------------------------------------------------------
    def text_chunk(self, chunk: str) -> list[str | Slot]:
        out: list[str | Slot] = []
        pos = 0
        for match in _TEXT_URL.finditer(chunk):
            url = match.group(0).rstrip(".,;:!?")
            if not is_trackable(url, self.plan.base_url):
                continue
            target = add_utm(url, self.plan.utm)
            index = self.add(target, "", "text")
            out.append(chunk[pos : match.start()])
            out.append(Slot("click_base", target, index))
            pos = match.start() + len(url)
        out.append(chunk[pos:])
        return [p for p in out if p != ""]


def track_edition(
    compiled: CompiledEdition, plan: TrackingPlan
) -> tuple[CompiledEdition, list[Link]]:
    """The edition with tracked links, honeypot and pixel, and its link table."""
    indexer = _Indexer(plan)
    pieces = compiled.html.pieces
    static_positions = [i for i, p in enumerate(pieces) if isinstance(p, str)]
    first = static_positions[0] if static_positions else -1
    last = static_positions[-1] if static_positions else -1
    html_out: list[str | Slot] = []
    for i, piece in enumerate(pieces):
        if isinstance(piece, str):
            html_out += indexer.html_chunk(piece, first=i == first, last=i == last)
        else:
            html_out.append(piece)
    text_out: list[str | Slot] = []
    for piece in compiled.text.pieces:
        if isinstance(piece, str) and plan.clicks and plan.text_clicks:
            text_out += indexer.text_chunk(piece)
        else:
            text_out.append(piece)
    tracked = CompiledEdition(
        compiled.subject,
        CompiledPart("html", tuple(html_out)),
        CompiledPart("text", tuple(text_out)),
        compiled.preheader,
        {**compiled.meta, "tracking": "1"},
    )
    return tracked, sorted(indexer.links, key=lambda link: link.index)


def is_tracked(compiled: CompiledEdition) -> bool:
    """True when a part of the edition holds a tracked link or the pixel."""
    parts = (compiled.html, compiled.text)
    return any(
        isinstance(p, Slot) and (p.index >= 0 or p.field == "open_url")
        for part in parts
        for p in part.pieces
    )
