"""bench.common.peak_rss_mb: a child started by a big process reports its own peak."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import peak_rss_mb

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_a_child_does_not_inherit_the_parents_peak() -> None:
    big = bytearray(128 * 1024 * 1024)
    for i in range(0, len(big), 4096):
        big[i] = 1  # touch every page
    parent = peak_rss_mb()
    assert parent > 128
    out = subprocess.run(
        [sys.executable, "-c", "from bench.common import peak_rss_mb; print(peak_rss_mb())"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    del big
    child = float(out.stdout)
    # ru_maxrss would say at least ``parent`` here (exec keeps the old address space's peak).
    assert 1 < child < parent - 100
