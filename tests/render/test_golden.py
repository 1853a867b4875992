"""The sample issue, the every-block issue and its digest layout render exactly as the
committed golden files (`make golden` rewrites them)."""

from __future__ import annotations

import pytest

from tests.render.golden import DIGEST, EVERY_BLOCK, GOLDEN, SLUG, render_sample

# The golden files depend on exact versions of mjml-python and css-inline: constraints.txt
# pins them, and `make lock` followed by `make golden` takes a new version on purpose.
NAMES = [
    f"{slug}/{name}"
    for slug in (SLUG, EVERY_BLOCK, DIGEST)
    for name in ("email.html", "email.txt", "subject.txt", "web.html")
]


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render_sample()


def test_the_golden_files_are_exactly_the_rendered_parts(rendered: dict[str, str]) -> None:
    assert sorted(rendered) == sorted(NAMES)
    on_disk = sorted(str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file())
    assert on_disk == sorted(NAMES), "a golden file is missing or left over; run 'make golden'"


@pytest.mark.parametrize("name", NAMES)
def test_sample_issue_matches_its_golden_file(rendered: dict[str, str], name: str) -> None:
    expected = (GOLDEN / name).read_text(encoding="utf-8")
    assert rendered[name] == expected, f"{name} changed; if on purpose, run 'make golden'"
