"""Import of 1,000,000 generated CSV rows, and streaming an audience of 1,000,000.

    python -m bench import                  # 1,000,000 rows (BENCH_IMPORT_ROWS to change)

Rows per second are given against wall-clock time and against the CPU time of the
importing process; on a shared, loaded machine the second is the one that says how fast the
code is. The heavy parts run in child processes (``python -m bench.bench_import import|stream``) so
that each reports its own peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), which
includes the interpreter and libraries. The database is a fresh SQLite file (WAL) in a
temporary folder; the CSV is the plain format (email, name, city) imported into one list,
with validation, normalisation, suppression look-ups and the change log, as
``newsletter subscribers import FILE --list news`` does.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
IMPORT_TARGET = 25_000  # rows per second (DESIGN.md)
RSS_TARGET_MB = 200  # peak RSS while streaming 1,000,000 recipients (DESIGN.md)
NAMES = ["Amélie", "Bjørn", "Chloé", "Dagny", "Emre", "Francisca", "Günther", "Hana"]
LOCAL = ["amelie", "bjorn", "chloe", "dagny", "emre", "francisca", "gunther", "hana"]


def generate(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("email,name,city\n")
        chunk = []
        for i in range(rows):
            # ASCII addresses (as nearly all real ones are), names with accents.
            name, local = NAMES[i % len(NAMES)], LOCAL[i % len(LOCAL)]
            chunk.append(f"{local}.{i}@example{i % 97}.com,{name} {i},City {i % 13}\n")
            if len(chunk) == 10_000:
                fh.write("".join(chunk))
                chunk = []
        fh.write("".join(chunk))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_import(db: str, csv_path: str) -> dict[str, Any]:
    from pipeline.store.db import open_database
    from pipeline.subscribers.importing import import_subscribers
    from pipeline.subscribers.lists import create_list

    engine = open_database(f"sqlite:///{db}")
    create_list(engine, "news", "News")
    started, cpu = time.perf_counter(), _cpu()
    report = import_subscribers(engine, Path(csv_path), lists=["news"])
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    return {
        "rows": report.rows,
        "added": report.added,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": _peak_mb(),
    }


def child_stream(db: str) -> dict[str, Any]:
    from pipeline.store.db import open_database
    from pipeline.subscribers.audience import stream_audience

    engine = open_database(f"sqlite:///{db}")
    started, cpu = time.perf_counter(), _cpu()
    count = 0
    for batch in stream_audience(engine, ["news"]):
        count += len(batch)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    return {"rows": count, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": _peak_mb()}


def _child(*args: str) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_import", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "subscribers.csv"
        db = Path(tmp) / "bench.db"
        generate(csv_path, ROWS)
        size_mb = csv_path.stat().st_size / 1e6
        imported = _child("import", str(db), str(csv_path))
        streamed = _child("stream", str(db))
    if imported["added"] != ROWS or streamed["rows"] != ROWS:
        raise RuntimeError(f"expected {ROWS} rows, got {imported} and {streamed}")
    import_rate = ROWS / imported["seconds"]
    import_cpu_rate = ROWS / imported["cpu_seconds"]
    stream_rate = ROWS / streamed["seconds"]
    load = os.getloadavg()[0]
    note = f"{ROWS:,} rows, {size_mb:.0f} MB CSV, SQLite, load average {load:.1f} on 2 cores"
    return [
        {
            "name": "import rows per second",
            "value": round(import_rate),
            "unit": "rows/s",
            "target": f">= {IMPORT_TARGET:,}",
            "ok": import_rate >= IMPORT_TARGET,
            "note": note,
        },
        {
            "name": "import rows per CPU second",
            "value": round(import_cpu_rate),
            "unit": "rows/s",
            "target": f">= {IMPORT_TARGET:,}",
            "ok": import_cpu_rate >= IMPORT_TARGET,
            "note": note + "; user+system CPU time of the importing process",
        },
        {
            "name": "import peak RSS",
            "value": round(imported["peak_mb"], 1),
            "unit": "MB",
            "target": "",
            "ok": None,
            "note": note,
        },
        {
            "name": "audience stream rows per second",
            "value": round(stream_rate),
            "unit": "rows/s",
            "target": "",
            "ok": None,
            "note": f"{ROWS:,} confirmed subscribers, batches of 5,000",
        },
        {
            "name": "audience stream peak RSS",
            "value": round(streamed["peak_mb"], 1),
            "unit": "MB",
            "target": f"< {RSS_TARGET_MB}",
            "ok": streamed["peak_mb"] < RSS_TARGET_MB,
            "note": f"{ROWS:,} confirmed subscribers",
        },
    ]


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "import":
        print(json.dumps(child_import(sys.argv[2], sys.argv[3])))
    elif mode == "stream":
        print(json.dumps(child_stream(sys.argv[2])))
    else:
        raise SystemExit("usage: python -m bench.bench_import import DB CSV | stream DB")
