"""Start-up time of commands, each beside a minimal Typer app started the same way.

    python -m bench startup

``newsletter --help``, ``newsletter issue list`` (target for both: under 0.3 s) and
``newsletter issue build`` (which must pay for rendering only) run as a user runs them
(the console script, a fresh process, in a copy of the repository's newsletter folder),
alternated with a two-command Typer app: the floor for any Typer CLI on this machine. The
module counts are guarded by tests/cli/test_startup.py; these are the times.

Every command runs once before it is timed, with Python's bytecode cache on (in a
temporary ``PYTHONPYCACHEPREFIX``, so nothing is written into the checkout), as an installed
package runs: with ``PYTHONDONTWRITEBYTECODE`` set, an editable install compiles every
module of the package again on each start, which is not what users pay. The first
``issue list`` also creates the database; the warm-up run takes that too.
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
from bench.fixtures import cached_bytecode, copy_folders

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


def _timed(
    cmd: list[str], cwd: Path, cpu: list[float] | None = None, env: dict[str, str] | None = None
) -> float:
    """Wall seconds of one run; its CPU seconds (user + system) go to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


#: The packages whose import time the note names (the rest is Python, typer's helpers, us).
NAMED = ("sqlalchemy", "pydantic", "typer", "rich", "jinja2", "mjml", "markdown_it", "yaml")

_PROBE = (
    "import sys; sys.argv = ['newsletter', *sys.argv[1:]]; from pipeline.cli import main; main()"
)


def _import_shares(args: list[str], root: Path, env: dict[str, str]) -> str:
    """Seconds spent importing each NAMED package (their own modules), by -X importtime."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    spent: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if own.isdigit():
            top = name.split(".")[0].lstrip("_")
            key = "pydantic" if top == "pydantic_core" else top
            spent[key] = spent.get(key, 0) + int(own)
    total = sum(spent.values())
    named = [f"{n} {spent[n] / 1e6:.3f} s" for n in NAMED if spent.get(n)]
    return f"{total / 1e6:.3f} s in all ({', '.join(named) or 'none of the large ones'})"


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
        env = cached_bytecode(root / "pycache")
        for label, args, target in [
            ("newsletter --help", ["--help"], TARGET),
            ("newsletter issue list", ["issue", "list"], TARGET),
            (f"newsletter issue build {SLUG}", ["issue", "build", SLUG], None),
        ]:
            cpu: list[float] = []
            ref_cpu: list[float] = []
            _timed(newsletter + args, root, env=env)  # warm: bytecode, database, caches
            _timed(floor, root, env=env)
            ours, ref = alternate(
                lambda a=args, c=cpu: _timed(newsletter + a, root, c, env),  # type: ignore[misc]
                lambda c=ref_cpu: _timed(floor, root, c, env),  # type: ignore[misc]
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
                    f" the minimal app's {statistics.median(ref_cpu):.3f} s; imports: "
                    + _import_shares(args, root, env),
                )
            )
    return rows
