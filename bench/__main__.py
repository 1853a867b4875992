"""Run every benchmark module (or those named on the command line) and write the results.

    python -m bench                 # all of bench/bench_*.py
    python -m bench render import   # only bench_render.py and bench_import.py
    BENCH_QUICK=1 python -m bench   # smaller sizes, for a first look on a busy machine

Each module's ``run()`` returns rows (see ``bench.common.row``): ``name``, ``value`` (the
median of at least 3 repetitions), ``min``/``max``, ``unit``, ``reference`` (the fair
reference measured in the same run, alternated with ours), ``ratio``, ``target`` (text,
e.g. ">= 20000"), ``ok`` (bool, or None when there is no target; a target is met only on
the whole figure), ``load`` (the load average during the measurement) and ``note``.
Results go to bench/results.json (merged by name; a suite that runs again replaces all its
rows) and bench/results.md (a table, with the machine and the load).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    # Compiled templates of the benchmarks' throwaway projects go to a folder of the run's
    # own (kept across the run's commands, as a user's are), not to the user's cache.
    cache = tempfile.TemporaryDirectory(prefix="newsletter-bench-cache-")
    os.environ["XDG_CACHE_HOME"] = cache.name
    results_path = HERE / "results.json"
    results: dict[str, Any] = {}
    if results_path.exists():
        results = json.loads(results_path.read_text())
    results.pop("_run", None)
    failed = False
    load_start = os.getloadavg()
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    cpu = machine()["cpu"]
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name} (load average {os.getloadavg()[0]:.1f})", flush=True)
        started = time.perf_counter()
        try:
            rows = module.run()
        except Exception as exc:  # a broken benchmark is reported, the others still run
            print(f"   FAILED: {exc!r}", flush=True)
            failed = True
            continue
        results = {k: v for k, v in results.items() if v.get("suite") != name}
        for row in rows:
            row["suite"] = name
            row["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            row["quick"] = quick
            row["machine"] = cpu
            results[row["name"]] = row
            mark = {True: "met", False: "MISSED", None: "-"}[row.get("ok")]
            spread = f" [{row['spread']}]" if row.get("spread") else ""
            ref = f" | reference: {row['reference']}" if row.get("reference") else ""
            ratio = f" | ratio {row['ratio']}" if row.get("ratio") is not None else ""
            print(
                f"   {row['name']}: {row['value']} {row['unit']}{spread}{ref}{ratio}"
                f" (target {row.get('target') or '-'}) {mark}"
                f" (load {row.get('load', '-')})",
                flush=True,
            )
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    run_info = {**machine(), "load_start": load_start, "load_end": os.getloadavg()}
    results_path.write_text(
        json.dumps({"_run": run_info, **results}, indent=2, ensure_ascii=False) + "\n"
    )
    write_markdown(results, run_info)
    return 1 if failed else 0


def _shown(value: Any) -> str:
    if isinstance(value, float):
        digits = 2 if abs(value) < 10 else 1
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value) if value is not None else "-"


def write_markdown(results: dict[str, Any], run: dict[str, Any]) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {run['cpu']} ({run['cores']} cores, {run['memory']}),"
        f" {run['system']}, Python {run['python']}. The machine is shared: the load average"
        " (1 minute) during each measurement is in the last column; figures taken at a load"
        " above the core count understate our code and the reference alike.",
        "",
        "Each value is the median of at least 3 repetitions (min-max beside it); a figure"
        " with a reference was measured alternately with it in the same run, and the ratio"
        " is ours over the reference. A target is met only on the whole figure.",
        "Rows marked (quick) come from `make bench QUICK=1` (smaller sizes).",
        "",
        "| suite | measure | median | min-max | unit | reference (median) | ratio | target"
        " | met | load |",
        "|---|---|---:|---|---|---|---:|---|---|---|",
    ]
    for row in sorted(results.values(), key=lambda r: (r["suite"], r["name"])):
        met = {True: "yes", False: "**no**", None: "-"}[row.get("ok")]
        note = f" ({row['note']})" if row.get("note") else ""
        quick = " (quick)" if row.get("quick") else ""
        if row.get("machine", run["cpu"]) != run["cpu"]:  # an earlier run, elsewhere
            quick += f" (measured {row['measured']} on {row['machine']})"
        low, high = row.get("min"), row.get("max")
        spread = f"{_shown(low)}-{_shown(high)}" if low is not None else "-"
        lines.append(
            f"| {row['suite']} | {row['name']}{note}{quick} | {_shown(row['value'])}"
            f" | {spread} | {row['unit']} | {row.get('reference') or '-'}"
            f" | {_shown(row.get('ratio'))} | {row.get('target') or '-'} | {met}"
            f" | {row.get('load', '-')} |"
        )
    (HERE / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
