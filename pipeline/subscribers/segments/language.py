"""The segment language: a condition on one subscriber, parsed into a small tree.

    condition := term ("or" term)*
    term      := factor ("and" factor)*
    factor    := "not" factor | "(" condition ")" | test
    test      := "list" STRING                      confirmed on that list
               | "tag" STRING                       has that tag
               | FIELD ("=" | "!=") STRING          a custom field equals / differs
               | FIELD "in" "(" STRING, ... ")"     a custom field is one of
               | "subscribed" ("before" | "after") DATE
               | ("opened" | "clicked") "within" NUMBER "days"
               | "missed" "last" NUMBER "issues"    received them and opened none

STRING is quoted with "..." or '...'; FIELD is a lower-case name such as ``skin_type``,
``country`` or ``timezone``; DATE is YYYY-MM-DD (UTC). Keywords are lower-case. Nothing
in a condition is ever pasted into SQL: strings become bound parameters.

A mistake raises ``SegmentSyntaxError`` with the position (1-based column) and what was
expected; the caller adds which setting it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

KEYWORDS = frozenset(
    {
        "and", "or", "not", "in", "list", "tag", "subscribed", "before", "after",
        "opened", "clicked", "within", "days", "missed", "last", "issues",
    }
)  # fmt: skip
FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}\Z")
MAX_DAYS = 36500
MAX_ISSUES = 1000


class SegmentSyntaxError(ValueError):
    def __init__(self, what: str, position: int) -> None:
        self.what = what
        self.position = position  # 1-based
        super().__init__(f"position {position}: {what}")


# ---- the tree ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OnList:
    slug: str


@dataclass(frozen=True)
class HasTag:
    tag: str


@dataclass(frozen=True)
class FieldIn:
    """``field = "a"`` is ``FieldIn(field, ("a",))``; ``!=`` is wrapped in ``Not``."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Subscribed:
    when: Literal["before", "after"]
    day: date


@dataclass(frozen=True)
class Engaged:
    event: Literal["opened", "clicked"]
    days: int


@dataclass(frozen=True)
class Missed:
    issues: int


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


Node = OnList | HasTag | FieldIn | Subscribed | Engaged | Missed | Not | And | Or


# ---- tokens -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: Literal["word", "string", "number", "date", "op", "end"]
    text: str
    position: int


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>\d+)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>"[^"\n]*"|'[^'\n]*')
      | (?P<op>!=|=|\(|\)|,)
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            if char in "\"'":
                raise SegmentSyntaxError("a quoted string is not closed", pos + 1)
            raise SegmentSyntaxError(f"unexpected character {char!r}", pos + 1)
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            value = match.group()
            if kind == "string":
                value = value[1:-1]
            tokens.append(Token(kind, value, pos + 1))  # type: ignore[arg-type]
        pos = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# ---- parser -----------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def shown(self, token: Token) -> str:
        if token.kind == "end":
            return "the end of the condition"
        return f'"{token.text}"' if token.kind == "string" else repr(token.text)

    def fail(self, expected: str) -> SegmentSyntaxError:
        return SegmentSyntaxError(
            f"expected {expected}, found {self.shown(self.token)}", self.token.position
        )

    def keyword(self, word: str) -> None:
        if self.token.kind == "word" and self.token.text == word:
            self.i += 1
            return
        raise self.fail(f"'{word}'")

    def string(self, after: str) -> str:
        if self.token.kind != "string":
            raise self.fail(f"a quoted string after {after}")
        return self.take().text

    def number(self, after: str, ceiling: int) -> int:
        token = self.token
        if token.kind != "number":
            raise self.fail(f"a whole number after {after}")
        value = int(self.take().text)
        if not 1 <= value <= ceiling:
            raise SegmentSyntaxError(f"{value} is out of range (1 to {ceiling})", token.position)
        return value

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise SegmentSyntaxError("the condition is empty", 1)
        node = self.condition()
        after: str = self.token.kind  # (the parser moved on: no longer the kind tested above)
        if after != "end":
            raise self.fail("'and', 'or' or the end of the condition")
        return node

    def condition(self) -> Node:
        parts = [self.term()]
        while self.token.kind == "word" and self.token.text == "or":
            self.i += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def term(self) -> Node:
        parts = [self.factor()]
        while self.token.kind == "word" and self.token.text == "and":
            self.i += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def factor(self) -> Node:
        token = self.token
        if token.kind == "word" and token.text == "not":
            self.i += 1
            return Not(self.factor())
        if token.kind == "op" and token.text == "(":
            self.i += 1
            node = self.condition()
            if not (self.token.kind == "op" and self.token.text == ")"):
                raise self.fail("')'")
            self.i += 1
            return node
        return self.test()

    def test(self) -> Node:
        token = self.token
        if token.kind != "word":
            raise self.fail('a test such as tag "vip", list "news" or skin_type = "oily"')
        word = token.text
        if word == "list":
            self.i += 1
            return OnList(self.string("'list'"))
        if word == "tag":
            self.i += 1
            return HasTag(self.string("'tag'").strip().lower())
        if word == "subscribed":
            self.i += 1
            when = self.token.text if self.token.kind == "word" else ""
            if when not in ("before", "after"):
                raise self.fail("'before' or 'after'")
            self.i += 1
            if self.token.kind != "date":
                raise self.fail("a date such as 2026-01-31")
            day_token = self.take()
            try:
                day = date.fromisoformat(day_token.text)
            except ValueError:
                raise SegmentSyntaxError(
                    f"{day_token.text} is not a date", day_token.position
                ) from None
            return Subscribed(when, day)  # type: ignore[arg-type]
        if word in ("opened", "clicked"):
            self.i += 1
            self.keyword("within")
            days = self.number("'within'", MAX_DAYS)
            self.keyword("days")
            return Engaged(word, days)  # type: ignore[arg-type]
        if word == "missed":
            self.i += 1
            self.keyword("last")
            issues = self.number("'last'", MAX_ISSUES)
            self.keyword("issues")
            return Missed(issues)
        if word in KEYWORDS or not FIELD_NAME.match(word):
            raise self.fail('a test such as tag "vip", list "news" or skin_type = "oily"')
        self.i += 1
        op = self.token
        if op.kind == "op" and op.text in ("=", "!="):
            self.i += 1
            value = self.string(f"'{op.text}'")
            node: Node = FieldIn(word, (value,))
            return Not(node) if op.text == "!=" else node
        if op.kind == "word" and op.text == "in":
            self.i += 1
            if not (self.token.kind == "op" and self.token.text == "("):
                raise self.fail("'(' after 'in'")
            self.i += 1
            values = [self.string("'('")]
            while self.token.kind == "op" and self.token.text == ",":
                self.i += 1
                values.append(self.string("','"))
            if not (self.token.kind == "op" and self.token.text == ")"):
                raise self.fail("',' or ')'")
            self.i += 1
            return FieldIn(word, tuple(values))
        raise self.fail(f"'=', '!=' or 'in' after the field {word!r}")


def parse_condition(text: str) -> Node:
    """The tree for ``text``; SegmentSyntaxError (with the position) when it is wrong."""
    return _Parser(text).parse()


def lists_named(node: Node) -> set[str]:
    """Every list slug the condition mentions (to check them against newsletter.toml)."""
    if isinstance(node, OnList):
        return {node.slug}
    if isinstance(node, Not):
        return lists_named(node.inner)
    if isinstance(node, And | Or):
        return set().union(*(lists_named(p) for p in node.parts))
    return set()
