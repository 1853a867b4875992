"""A finding of the checks before sending: level, code, message, file and line, fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    level: str  # "error" | "warning"
    code: str
    message: str
    path: str
    line: int | None = None
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        text = f"{where}: {self.message}"
        return f"{text} ({self.fix})" if self.fix else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def error(code: str, message: str, path: str, line: int | None, fix: str = "") -> Finding:
    return Finding("error", code, message, path, line, fix)


def warning(code: str, message: str, path: str, line: int | None, fix: str = "") -> Finding:
    return Finding("warning", code, message, path, line, fix)


def clip(text: str, size: int) -> str:
    """``text`` cut to ``size`` characters, with an ellipsis when it was longer."""
    return text if len(text) <= size else text[: size - 1] + "…"
