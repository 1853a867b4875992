"""Start-up time of commands, each beside a minimal Typer app started the same way.

    python -m bench startup

``newsletter --help``, ``newsletter issue list`` (target for both: under 0.3 s) and
``newsletter issue build`` (which must pay for rendering only) run as a user runs them
(the console script, a fresh process, in a copy of the repository's newsletter folder),
alternated with a two-command Typer app: the floor for any Typer CLI on this machine. The
module counts are guarded by tests/cli/test_startup.py; these are the times.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import alternate, row, size
from bench.fixtures import copy_folders

REPO = Path(__file__).resolve().parent.parent
SLUG = "2026-12-01-microneedling"
TARGET = 0.3  # seconds (DESIGN.md)

MINIMAL = '''
import typer

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


@app.command()
def bye() -> None:
    """Say goodbye."""


app()
'''


def _timed(cmd: list[str], cwd: Path, cpu: list[float] | None = None) -> float:
    """Wall seconds of one run; its CPU seconds (user + system) go to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def run() -> list[dict[str, Any]]:
    script = Path(sys.executable).parent / "newsletter"
    newsletter = [str(script)] if script.exists() else [sys.executable, "-m", "pipeline.cli"]
    reps = size(7, 3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        copy_folders(root)
        shutil.copyfile(REPO / "newsletter.toml", root / "newsletter.toml")
        minimal = root / "minimal.py"
        minimal.write_text(MINIMAL)
        floor = [sys.executable, str(minimal), "--help"]
        for label, args, target in [
            ("newsletter --help", ["--help"], TARGET),
            ("newsletter issue list", ["issue", "list"], TARGET),
            (f"newsletter issue build {SLUG}", ["issue", "build", SLUG], None),
        ]:
            cpu: list[float] = []
            ref_cpu: list[float] = []
            ours, ref = alternate(
                lambda a=args, c=cpu: _timed(newsletter + a, root, c),  # type: ignore[misc]
                lambda c=ref_cpu: _timed(floor, root, c),  # type: ignore[misc]
                reps,
            )
            rows.append(
                row(
                    label,
                    ours,
                    "s",
                    digits=3,
                    target=f"< {target}" if target else "",
                    ok=(ours.median < target) if target else None,
                    reference=f"minimal Typer app --help {ref.median:.3f} s",
                    ratio=ours.median / ref.median,
                    note=f"wall time of a fresh process; CPU time {statistics.median(cpu):.3f} s,"
                    f" the minimal app's {statistics.median(ref_cpu):.3f} s",
                )
            )
    return rows
