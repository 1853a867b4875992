"""Markdown for issues: to HTML (for the email and the web version), to plain text (for
the text/plain part, written from the Markdown itself, not from HTML), and the facts the
checks need (links, images and list introductions, each with its line).

CommonMark through markdown-it-py, with raw HTML switched off: an editor's ``<script>``
shows as text instead of reaching an inbox.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

WIDTH = 72


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "typographer": False}).enable(["strikethrough"])


@cache
def _facts_parser() -> MarkdownIt:
    """The checks' parser: it keeps every link, whatever its scheme (the rendering parser
    turns a ``javascript:`` link into text), so the check can name the editor's mistake."""
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md.enable(["strikethrough"])


@cache
def _html_parser() -> MarkdownIt:
    """Sees raw HTML as HTML, to tell the editor where it would show as text."""
    return MarkdownIt("commonmark", {"html": True, "typographer": False})


@lru_cache(maxsize=512)
def _facts(md: str) -> tuple[Token, ...]:
    return tuple(_facts_parser().parse(md))


def parse(md: str) -> list[Token]:
    """Fresh tokens for ``md`` (callers may change them)."""
    return _parser().parse(md)


@lru_cache(maxsize=512)
def parsed(md: str) -> tuple[Token, ...]:
    """Tokens for ``md``, shared: the checks read one text several times. Do not modify."""
    return tuple(_parser().parse(md))


def to_html(md: str, resolve_image: Callable[[str], str] | None = None) -> str:
    """HTML for ``md``; ``resolve_image`` maps each image ``src`` to the URL to use."""
    tokens = parse(md)
    if resolve_image is not None:
        for token in _inline_children(tokens):
            if token.type == "image":
                src = str(token.attrGet("src") or "")
                token.attrSet("src", resolve_image(src))
    return str(_parser().renderer.render(tokens, _parser().options, {}))


def _inline_children(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        if token.type == "inline" and token.children:
            yield from token.children


# ---- plain text --------------------------------------------------------------------------
def _inline_text(token: Token) -> str:
    out: list[str] = []
    href_stack: list[str] = []
    start_stack: list[int] = []
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            out.append(child.content)
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "image":
            alt = "".join(c.content for c in child.children or [])
            if alt:
                out.append(f"[{alt}]")
        elif kind == "link_open":
            href_stack.append(str(child.attrGet("href") or ""))
            start_stack.append(len(out))
        elif kind == "link_close" and href_stack:
            href = href_stack.pop()
            label = "".join(out[start_stack.pop() :])
            if href and href != label and not href.startswith("mailto:"):
                out.append(f" ({href})")
    return "".join(out)


def _wrap(text: str, first: str, rest: str, width: int) -> list[str]:
    lines: list[str] = []
    for i, chunk in enumerate(text.split("\n")):
        wrapped = textwrap.wrap(
            chunk,
            width=width,
            initial_indent=first if i == 0 else rest,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(wrapped or [rest.rstrip()])
    return lines


def to_text(md: str, width: int = WIDTH) -> str:
    """Readable plain text for ``md``: wrapped paragraphs, '-' lists, links as (URL)."""
    tokens = parsed(md)
    blocks: list[str] = []
    prefixes: list[str] = []  # one per open list item / blockquote
    ordinals: list[int | None] = []  # per open list: next number, None for bullets
    pending_item = False
    previous = ""
    for token in tokens:
        kind, previous_kind = token.type, previous
        previous = kind
        if kind in ("bullet_list_open", "ordered_list_open"):
            if not _in_list(prefixes) and blocks and blocks[-1] != "":
                blocks.append("")
            start = token.attrGet("start") if kind == "ordered_list_open" else None
            ordinals.append(None if kind == "bullet_list_open" else int(start or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            ordinals.pop()
        elif kind == "list_item_open":
            number = ordinals[-1] if ordinals else None
            marker = "- " if number is None else f"{number}. "
            if number is not None:
                ordinals[-1] = number + 1
            prefixes.append(marker)
            pending_item = True
        elif kind == "list_item_close":
            prefixes.pop()
        elif kind == "blockquote_open":
            prefixes.append("> ")
        elif kind == "blockquote_close":
            prefixes.pop()
        elif kind == "inline":
            first = "".join(
                p if (i == len(prefixes) - 1 and pending_item) or p == "> " else " " * len(p)
                for i, p in enumerate(prefixes)
            )
            rest = "".join(p if p == "> " else " " * len(p) for p in prefixes)
            text = _inline_text(token)
            if previous_kind == "heading_open":
                text = text.upper()
            lines = _wrap(text, first, rest, width)
            tight_item = pending_item or (prefixes and prefixes[-1] != "> ")
            pending_item = False
            if tight_item and blocks and blocks[-1] != "" and _in_list(prefixes):
                blocks.extend(lines)
            else:
                if blocks and blocks[-1] != "":
                    blocks.append("")
                blocks.extend(lines)
        elif kind in ("fence", "code_block"):
            if blocks:
                blocks.append("")
            blocks.extend("    " + line for line in token.content.rstrip("\n").split("\n"))
        elif kind == "hr":
            if blocks:
                blocks.append("")
            blocks.append("-" * 20)
    return "\n".join(blocks).strip("\n")


def _in_list(prefixes: list[str]) -> bool:
    return any(p != "> " for p in prefixes)


# ---- facts for the checks ------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    href: str
    line: int  # 1-based, within the Markdown text


@dataclass(frozen=True)
class Image:
    src: str
    alt: str
    line: int


@dataclass(frozen=True)
class Block:
    kind: str  # "paragraph", "heading", "bullet_list", "ordered_list", ...
    text: str
    line: int


def _child_lines(token: Token) -> Iterator[tuple[Token, int]]:
    line = (token.map[0] if token.map else 0) + 1
    for child in token.children or []:
        if child.type in ("softbreak", "hardbreak"):
            line += 1
        yield child, line


def links(md: str) -> list[Link]:
    """Every link of ``md``, whatever its scheme (also those the rendering drops)."""
    found: list[Link] = []
    for token in _facts(md):
        if token.type != "inline":
            continue
        for child, line in _child_lines(token):
            if child.type == "link_open":
                found.append(Link(str(child.attrGet("href") or ""), line))
    return found


def images(md: str) -> list[Image]:
    """Every image of ``md``, whatever its scheme."""
    found: list[Image] = []
    for token in _facts(md):
        if token.type != "inline":
            continue
        for child, line in _child_lines(token):
            if child.type == "image":
                alt = "".join(c.content for c in child.children or []).strip()
                found.append(Image(str(child.attrGet("src") or ""), alt, line))
    return found


def top_blocks(md: str) -> list[Block]:
    """The top-level blocks of ``md`` in order, with their first line."""
    tokens = parsed(md)
    found: list[Block] = []
    for i, token in enumerate(tokens):
        if token.level != 0 or token.nesting == -1:
            continue
        kind = token.type.removesuffix("_open")
        text = ""
        if i + 1 < len(tokens) and tokens[i + 1].type == "inline":
            text = tokens[i + 1].content
        line = (token.map[0] if token.map else 0) + 1
        found.append(Block(kind, text, line))
    return found


def dangling_list_intros(md: str) -> list[Block]:
    """Paragraphs that end with ':' (introducing a list) but are not followed by a list."""
    blocks = top_blocks(md)
    dangling: list[Block] = []
    for i, block in enumerate(blocks):
        if block.kind != "paragraph" or not block.text.rstrip().endswith(":"):
            continue
        following = blocks[i + 1].kind if i + 1 < len(blocks) else None
        if following not in ("bullet_list", "ordered_list", "table", "fence", "code_block"):
            dangling.append(block)
    return dangling


def raw_html(md: str) -> list[Block]:
    """Raw HTML in ``md`` (tags, comments): the rendering shows it as text, not as HTML."""
    found: list[Block] = []
    for token in _html_parser().parse(md):
        if token.type == "html_block":
            found.append(Block("html", token.content.strip(), (token.map or [0])[0] + 1))
        elif token.type == "inline":
            for child, line in _child_lines(token):
                if child.type == "html_inline":
                    found.append(Block("html", child.content, line))
    return found
