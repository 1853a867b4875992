"""Import of 1,000,000 generated CSV rows, and streaming an audience of 1,000,000.

    python -m bench import                  # 1,000,000 rows (BENCH_IMPORT_ROWS to change)

Three imports, each into a fresh database; the stream runs once, after them.

Rows per second are given against wall-clock time and against the CPU time of the
importing process; on a shared, loaded machine the second is the one that says how fast the
code is. The heavy parts run in child processes (``python -m bench.bench_import import|stream``) so
that each reports its own peak RSS (``VmHWM``, see ``bench.common.peak_rss_mb``: not
``ru_maxrss``, which a child inherits from the bench process that started it), which
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

from bench.common import Series, load, peak_rss_mb, repeat, row, size

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
IMPORT_TARGET = 26_000  # rows per second: the import before issue 14 (flat memory) ran at 26,000
RSS_TARGET_MB = 200  # peak RSS while streaming 1,000,000 recipients (DESIGN.md)
IMPORT_RSS_TARGET_MB = 150  # peak RSS of a 1,000,000-row import (issue 14)
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
        "peak_mb": peak_rss_mb(),
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
    return {"rows": count, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_rss_mb()}


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
    rows = int(os.environ.get("BENCH_IMPORT_ROWS", "0")) or size(ROWS, 100_000)
    imports: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "subscribers.csv"
        db = Path(tmp) / "bench.db"
        generate(csv_path, rows)
        size_mb = csv_path.stat().st_size / 1e6

        def once() -> float:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            result = _child("import", str(db), str(csv_path))
            if result["added"] != rows:
                raise RuntimeError(f"expected {rows} rows, got {result}")
            imports.append(result)
            return rows / float(result["seconds"])

        rates = repeat(once)
        streamed = _child("stream", str(db))
    if streamed["rows"] != rows:
        raise RuntimeError(f"expected {rows} rows, got {streamed}")
    cpu_rates = Series([rows / i["cpu_seconds"] for i in imports], rates.loads)
    peaks = Series([i["peak_mb"] for i in imports], rates.loads)
    stream_rate = Series([rows / streamed["seconds"]], [load()])
    stream_peak = Series([streamed["peak_mb"]], [load()])
    note = f"{rows:,} rows, {size_mb:.0f} MB CSV, SQLite"
    return [
        row(
            "import rows per second",
            rates,
            "rows/s",
            target=f">= {IMPORT_TARGET:,}",
            ok=rates.median >= IMPORT_TARGET,
            note=note,
        ),
        row(
            "import rows per CPU second",
            cpu_rates,
            "rows/s",
            target=f">= {IMPORT_TARGET:,}",
            ok=cpu_rates.median >= IMPORT_TARGET,
            note=note + "; user+system CPU time of the importing process",
        ),
        row(
            "import peak RSS",
            peaks,
            "MB",
            digits=1,
            target=f"< {IMPORT_RSS_TARGET_MB}",
            ok=peaks.high < IMPORT_RSS_TARGET_MB,
            note=note + "; VmHWM of the importing process (interpreter and libraries included)",
        ),
        row(
            "audience stream rows per second",
            stream_rate,
            "rows/s",
            note=f"{rows:,} confirmed subscribers, batches of 5,000 (one run)",
        ),
        row(
            "audience stream peak RSS",
            stream_peak,
            "MB",
            digits=1,
            target=f"< {RSS_TARGET_MB}",
            ok=stream_peak.high < RSS_TARGET_MB,
            note=f"{rows:,} confirmed subscribers (one run); VmHWM of the streaming process",
        ),
    ]


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "import":
        print(json.dumps(child_import(sys.argv[2], sys.argv[3])))
    elif mode == "stream":
        print(json.dumps(child_stream(sys.argv[2])))
    else:
        raise SystemExit("usage: python -m bench.bench_import import DB CSV | stream DB")
