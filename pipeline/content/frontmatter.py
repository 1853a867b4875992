"""Front matter: the YAML block between two ``---`` lines at the top of a Markdown file.

Parsed with PyYAML's composer so every key keeps its line in the file; errors name the
file and line (``issues/x/issue.md:4: ...``) and an unknown key suggests the nearest known
one. Files must be UTF-8; anything else names the byte and line where decoding failed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ContentError

FENCE = "---"
# libyaml's loader when PyYAML has it (several times faster); same marks and errors.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class FrontMatter:
    data: dict[str, Any]
    lines: dict[str, int]  # key -> line in the file (1-based)
    item_lines: dict[str, list[int]]  # key of a list -> line of each item
    body: str
    body_line: int  # line where the body starts


def read_text(path: Path, label: str | Path | None = None) -> str:
    """The file's text, decoded as UTF-8 (a BOM is dropped); errors name byte and line."""
    shown = label if label is not None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ContentError("file not found", path=shown, fix="create it or fix the name") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ContentError(
            f"not UTF-8 (byte {exc.start} is 0x{raw[exc.start]:02x})",
            path=shown,
            line=line,
            fix="save the file as UTF-8 in your editor",
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def parse_front_matter(text: str, path: str | Path) -> FrontMatter:
    """Split ``text`` into its front matter (a mapping) and body."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != FENCE:
        raise ContentError(
            "no front matter",
            path=path,
            line=1,
            fix="start the file with a line '---', then the keys, then another '---'",
        )
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in (FENCE, "...")), None)
    if end is None:
        raise ContentError(
            "the front matter is not closed",
            path=path,
            line=1,
            fix="end the front matter with a line '---'",
        )
    block = "\n".join(lines[1:end])
    offset = 2  # the YAML block starts on the file's second line
    try:
        loader = _Loader(block)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + offset if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise ContentError(
            f"invalid front matter: {problem}",
            path=path,
            line=line,
            fix="write one 'key: value' per line; quote values that hold ': ' or start with '['",
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked YAML errors are rare
        raise ContentError(f"invalid front matter: {exc}", path=path, line=1) from None
    if data is None:
        data = {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode | type(None)):
        raise ContentError(
            "the front matter is not a set of 'key: value' lines",
            path=path,
            line=offset,
            fix="write one 'key: value' per line",
        )
    key_lines: dict[str, int] = {}
    item_lines: dict[str, list[int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_lines[str(key_node.value)] = key_node.start_mark.line + offset
            if isinstance(value_node, yaml.SequenceNode):
                item_lines[str(key_node.value)] = [
                    item.start_mark.line + offset for item in value_node.value
                ]
    body = "\n".join(lines[end + 1 :])
    data = {str(k): v for k, v in data.items()}
    return FrontMatter(data, key_lines, item_lines, body, end + 2)


def check_keys(front: FrontMatter, known: tuple[str, ...], path: str | Path) -> None:
    """Refuse a key that is not in ``known``, suggesting the nearest one."""
    for key in front.data:
        if key in known:
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        fix = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(known)}"
        raise ContentError(
            f"unknown front-matter key '{key}'", path=path, line=front.lines.get(key, 1), fix=fix
        )


def text_value(front: FrontMatter, key: str, path: str | Path, *, required: bool = False) -> str:
    """A string value (numbers are accepted and turned into text)."""
    value = front.data.get(key)
    if value is None:
        if required:
            raise ContentError(
                f"missing front-matter key '{key}'",
                path=path,
                line=1,
                fix=f"add a line '{key}: ...' between the '---' lines",
            )
        return ""
    if isinstance(value, dict | list):
        raise ContentError(
            f"'{key}' must be text, not a {'list' if isinstance(value, list) else 'mapping'}",
            path=path,
            line=front.lines.get(key, 1),
            fix=f"write '{key}: some text' on one line",
        )
    return str(value).strip()


def list_value(front: FrontMatter, key: str, path: str | Path) -> list[str]:
    """A list of strings; a single string is accepted as a list of one."""
    value = front.data.get(key)
    if value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if not isinstance(value, list) or any(isinstance(v, dict | list) for v in value):
        raise ContentError(
            f"'{key}' must be a list of names",
            path=path,
            line=front.lines.get(key, 1),
            fix=f"write '{key}: [a, b]'",
        )
    return [str(v).strip() for v in value if v is not None]
