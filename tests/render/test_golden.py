"""The sample issue renders exactly as the committed golden files (`make golden` rewrites)."""

from __future__ import annotations

import pytest

from tests.render.golden import GOLDEN, render_sample

RENDERED = render_sample()


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_sample_issue_matches_its_golden_file(name: str) -> None:
    expected = (GOLDEN / name).read_text(encoding="utf-8")
    assert RENDERED[name] == expected, f"{name} changed; if on purpose, run 'make golden'"
