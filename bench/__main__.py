"""Run every benchmark module (or those named on the command line) and write the results.

    python -m bench                 # all of bench/bench_*.py
    python -m bench render import   # only bench_render.py and bench_import.py

Each module's ``run()`` returns rows: dicts with ``name``, ``value``, ``unit``, ``target``
(text, e.g. ">= 20000") and ``ok`` (bool or None when there is no target), and optional
``note``. Results go to bench/results.json (merged by name) and bench/results.md (a table).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    results_path = HERE / "results.json"
    results: dict[str, Any] = {}
    if results_path.exists():
        results = json.loads(results_path.read_text())
    failed = False
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            rows = module.run()
        except Exception as exc:  # a broken benchmark is reported, the others still run
            print(f"   FAILED: {exc!r}", flush=True)
            failed = True
            continue
        for row in rows:
            row["suite"] = name
            row["measured"] = time.strftime("%Y-%m-%d")
            results[row["name"]] = row
            mark = {True: "ok", False: "MISSED", None: "-"}[row.get("ok")]
            print(
                f"   {row['name']}: {row['value']} {row['unit']}"
                f" (target {row.get('target') or '-'}) {mark}"
            )
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    write_markdown(results)
    return 1 if failed else 0


def write_markdown(results: dict[str, Any]) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {platform.machine()}, Python {platform.python_version()},"
        " 2 cores. Figures vary by a few percent between runs.",
        "",
        "| suite | measure | value | unit | target | met |",
        "|---|---|---:|---|---|---|",
    ]
    for row in sorted(results.values(), key=lambda r: (r["suite"], r["name"])):
        met = {True: "yes", False: "**no**", None: "-"}[row.get("ok")]
        value = row["value"]
        digits = 2 if isinstance(value, float) and abs(value) < 10 else 1
        shown = (
            f"{value:,.{digits}f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value)
        )
        note = f" ({row['note']})" if row.get("note") else ""
        lines.append(
            f"| {row['suite']} | {row['name']}{note} | {shown} | {row['unit']}"
            f" | {row.get('target') or '-'} | {met} |"
        )
    (HERE / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
