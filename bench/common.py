"""What every benchmark shares: repetitions, alternation with the reference, the load.

A figure is only honest beside its reference taken in the same run, on the same machine,
under the same load. ``alternate`` runs ours and the reference in turn (ours, reference,
ours, reference, ...) so that a change in load during the run touches both alike, and
keeps every repetition: rows show the median with the minimum and maximum, and the load
average (1 minute) at the start and the end of the measurement.

``BENCH_QUICK=1`` (``make bench QUICK=1``) scales the sizes down for a first look on a busy
machine; quoted figures come from full runs.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
REPS = max(3, int(os.environ.get("BENCH_REPS", "3")))


def size(full: int, quick: int) -> int:
    """The size to measure: ``full``, or ``quick`` under BENCH_QUICK."""
    return quick if QUICK else full


def load() -> float:
    return os.getloadavg()[0]


def peak_rss_mb() -> float:
    """The peak resident memory of this process (MB): ``VmHWM`` of /proc/self/status,
    else ``ru_maxrss``.

    A bench child started with fork (or vfork) and exec must not read ``ru_maxrss``: on
    Linux, exec folds the high-water mark of the address space it replaces (the parent's,
    shared or copied) into the process's ``maxrss``, so every child of a big bench process
    reports at least the parent's peak. ``VmHWM`` belongs to the address space, which exec
    makes anew. (A worker forked without exec shares its parent's pages until it writes to
    them: its VmHWM starts from the parent's resident set.)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


@dataclass
class Series:
    """Repeated measurements of one figure (each a rate or a duration)."""

    values: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)
        self.loads.append(load())

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def spread(self, fmt: str = ",.0f") -> str:
        return f"min {self.low:{fmt}}, max {self.high:{fmt}}, n={len(self.values)}"

    def load_text(self) -> str:
        return f"{min(self.loads):.1f}-{max(self.loads):.1f}"


def alternate(
    ours: Callable[[], float], reference: Callable[[], float], reps: int = REPS
) -> tuple[Series, Series]:
    """Run ours and the reference in turn ``reps`` times each; each call returns its
    figure. The ratio is taken from the medians."""
    a, b = Series(), Series()
    for _ in range(reps):
        a.add(ours())
        b.add(reference())
    return a, b


def alternate_all(measures: list[Callable[[], float]], reps: int = REPS) -> list[Series]:
    """Like ``alternate`` for any number of figures: each round runs every one in turn."""
    series = [Series() for _ in measures]
    for _ in range(reps):
        for measure, into in zip(measures, series, strict=True):
            into.add(measure())
    return series


def repeat(measure: Callable[[], float], reps: int = REPS) -> Series:
    series = Series()
    for _ in range(reps):
        series.add(measure())
    return series


def row(
    name: str,
    series: Series,
    unit: str,
    *,
    target: str = "",
    ok: bool | None = None,
    reference: str = "",
    ratio: float | None = None,
    note: str = "",
    digits: int = 0,
) -> dict[str, Any]:
    """A result row: the median with its spread, the reference beside it and the load."""
    value: float | int = round(series.median, digits) if digits else round(series.median)
    fmt = f",.{digits}f"
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "min": round(series.low, digits) if digits else round(series.low),
        "max": round(series.high, digits) if digits else round(series.high),
        "reps": len(series.values),
        "spread": series.spread(fmt),
        "reference": reference,
        "ratio": None if ratio is None else round(ratio, 2),
        "target": target,
        "ok": ok,
        "load": series.load_text(),
        "note": note,
    }
