"""Rows to data: build a dataclass from a result row by its field names."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(cls: type[T], row: Any, **overrides: Any) -> T:
    """``cls(**fields)`` taking each dataclass field from the row's column of that name;
    ``overrides`` give the fields that need converting (or that are not columns)."""
    mapping = row._mapping
    values = {
        f.name: overrides[f.name] if f.name in overrides else mapping[f.name]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in overrides or f.name in mapping
    }
    return cls(**values)
