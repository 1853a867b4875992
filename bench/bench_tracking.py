"""Tracking benchmarks (`python -m bench tracking`), each measured in one run.

- personalisation with click and open tracking on, for the sample issue with 20 outbound
  links: complete MIME messages per second on one core (values with three signed tokens,
  then the skeleton join), beside the same issue without tracking;
- the redirect endpoint (``/l/{token}/{index}``): requests per second answered by
  ``newsletter``'s web app (one uvicorn process, the ledger on SQLite, clicks recorded by
  the background writer), loaded by ``wrk`` (Debian's package) on loopback, or, where wrk
  is missing, by a Python load generator in another process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.fixtures import copy_folders
from pipeline.config import Settings, load_settings
from pipeline.render.build import build_issue
from pipeline.render.personalise import CompiledEdition
from pipeline.sending.mime import MessageSkeleton
from pipeline.sending.recipient_values import recipient_values
from pipeline.tracking.plan import index_links, tracking_values

REPO = Path(__file__).resolve().parent.parent
SLUG = "2026-12-01-microneedling"
LINKS = 20
SECRET = "bench-secret-key-0123456789-0123456789-0123456789"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def _project(root: Path) -> Path:
    copy_folders(root)
    shutil.copyfile(REPO / "newsletter.toml", root / "newsletter.toml")
    issue = root / "issues" / SLUG / "issue.md"
    shop = " ".join(
        f"[Shop product {i}](https://shop.example.com/product-{i}?ref=glow)"
        for i in range(1, LINKS + 1)
    )
    issue.write_text(issue.read_text() + "\n\n" + shop + "\n")
    return root


def _settings(root: Path, **overrides: Any) -> Settings:
    return load_settings(
        root / "newsletter.toml", {"NEWSLETTER_SECRET_KEY": SECRET}, overrides=overrides
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- personalisation ---------------------------------------------------------------------
def _rate(settings: Settings, compiled: CompiledEdition, tracked: bool, n: int) -> float:
    """Messages per second of this process's CPU time (one core; the machine is shared,
    so wall time would measure the neighbours)."""
    skeleton = MessageSkeleton(settings, compiled, slug=SLUG, lists=["beauty-tips"])
    started = time.process_time()
    for i in range(n):
        email = f"reader{i}@example.org"
        values = recipient_values(settings, f"p{i:08d}", email, "Zoë Example", 1)
        if tracked:
            values.update(tracking_values(settings, f"p{i:08d}", 1))
        skeleton.build(email, "Zoë Example", values)
    return n / (time.process_time() - started)


def bench_personalise(root: Path) -> list[dict[str, Any]]:
    settings = _settings(root)
    plain = build_issue(settings, SLUG).compiled
    tracked, links = index_links(settings, plain, SLUG, ["beauty-tips"])
    outbound = sum(1 for link in links if link.kind == "link")
    assert outbound >= LINKS, f"only {outbound} links tracked"
    n = 40_000
    _rate(settings, tracked, True, 2_000)  # warm up
    with_tracking = _rate(settings, tracked, True, n)
    without = _rate(settings, plain, False, n)
    return [
        {
            "name": f"personalised MIME messages per second with tracking ({outbound} links)",
            "value": round(with_tracking),
            "unit": "msg/s",
            "target": ">= 20000",
            "ok": with_tracking >= 20_000,
            "note": "per CPU-second of one core; 3 tokens per recipient, pixel, honeypot",
        },
        {
            "name": "personalised MIME messages per second, same issue without tracking",
            "value": round(without),
            "unit": "msg/s",
            "target": None,
            "ok": None,
            "note": f"tracking costs {(1 - with_tracking / without) * 100:.0f}%",
        },
    ]


# ---- the redirect endpoint -----------------------------------------------------------------
SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from pipeline.config import load_settings
    from pipeline.store.db import open_database
    from pipeline.web.app import create_app
    root, port = sys.argv[1], int(sys.argv[2])
    settings = load_settings(
        __import__("pathlib").Path(root) / "newsletter.toml",
        {"NEWSLETTER_SECRET_KEY": sys.argv[3]},
        overrides={"newsletter.base_url": f"http://127.0.0.1:{port}"},
    )
    app = create_app(settings, engine=open_database(settings.database_url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    """
)

LOADGEN = textwrap.dedent(
    """
    import http.client, json, sys, threading, time
    port, seconds, paths = int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
    counts = []
    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            conn.request("GET", paths[(n + k) % len(paths)], headers={"User-Agent": sys.argv[4]})
            conn.getresponse().read()
            n += 1
        counts.append(n)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(sum(counts) / seconds)
    """
)


def _paths(root: Path, people: int) -> list[str]:
    """Freeze the issue and put ``people`` sent deliveries in the ledger; their links."""
    from sqlalchemy import insert

    from pipeline.sending.editions import freeze_edition
    from pipeline.store.db import open_database
    from pipeline.store.tables import deliveries, subscribers, utcnow
    from pipeline.subscribers.service import add_subscriber, sync_lists

    settings = _settings(root)
    engine = open_database(settings.database_url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(subscribers),
            [
                {
                    "email": f"r{i}@example.org",
                    "name": "",
                    "attributes": {},
                    "status": "active",
                    "public_id": f"{i + 1:032x}",
                }
                for i in range(people)
            ],
        )
    # An edition for nobody is refused: one confirmed reader on the list, then freeze.
    sync_lists(engine, settings)
    add_subscriber(
        engine, "reader@example.org", lists=["beauty-tips"], method="bench", confirmed=True
    )
    edition_id = freeze_edition(settings, engine, SLUG)
    with engine.begin() as conn:
        conn.execute(
            insert(deliveries),
            [
                {
                    "edition_id": edition_id,
                    "subscriber_id": i + 1,
                    "email": f"r{i}@example.org",
                    "status": "sent",
                    "sent_at": now,
                    "updated_at": now,
                }
                for i in range(people)
            ],
        )
    engine.dispose()
    paths = []
    for i in range(people):
        base = tracking_values(settings, f"{i + 1:032x}", edition_id)["click_base"]
        path = re.sub(r"^https?://[^/]+", "", base)
        paths.append(f"{path}/{1 + i % LINKS}")
    return paths


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("the web app did not start")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the web app did not start in 30 s")


def bench_redirect(root: Path) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from pipeline.store.db import open_database
    from pipeline.store.tables import delivery_events

    paths = _paths(root, 2_000)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(root), str(port), SECRET], cwd=root
    )
    seconds = 8.0
    try:
        _wait(port, server)
        cpu_before = _cpu_seconds(server.pid)
        wrk = shutil.which("wrk")
        if wrk:
            script = root / "paths.lua"
            script.write_text(
                "local paths = " + json.dumps(paths).replace("[", "{").replace("]", "}") + "\n"
                "local i = 0\n"
                "request = function()\n  i = i + 1\n"
                f'  local headers = {{["User-Agent"] = "{CHROME}"}}\n'
                '  return wrk.format("GET", paths[(i % #paths) + 1], headers)\n'
                "end\n"
            )
            out = subprocess.run(
                [
                    wrk,
                    "-t1",
                    "-c16",
                    f"-d{int(seconds)}s",
                    "-s",
                    str(script),
                    f"http://127.0.0.1:{port}",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found = re.search(r"Requests/sec:\s+([\d.]+)", out)
            assert found, out
            rate = float(found.group(1))
            generator = "wrk -t1 -c16"
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            assert non2xx is None, out
        else:
            out = subprocess.run(
                [sys.executable, "-c", LOADGEN, str(port), str(seconds), json.dumps(paths), CHROME],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rate = float(out.strip())
            generator = "Python, 8 keep-alive connections"
        cpu = _cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()  # uvicorn shuts down: the recorder writes what is queued
        server.wait(timeout=60)
    engine = open_database(_settings(root).database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(delivery_events)).scalar_one()
    engine.dispose()
    per_cpu = rate * seconds / cpu if cpu > 0 else 0.0
    load = os.getloadavg()[0]
    return [
        {
            "name": "tracked-link redirects per CPU-second of the web process (SQLite)",
            "value": round(per_cpu),
            "unit": "req/s",
            "target": ">= 1000",
            "ok": per_cpu >= 1_000,
            "note": f"{generator} on loopback, {seconds:.0f} s; {stored:,} clicks stored",
        },
        {
            "name": "tracked-link redirects per second, wall clock (shared machine)",
            "value": round(rate),
            "unit": "req/s",
            "target": None,
            "ok": None,
            "note": f"load average {load:.1f} on {os.cpu_count()} cores during the run",
        },
    ]


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = _project(Path(tmp))
        rows = bench_personalise(root)
        rows += bench_redirect(root)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
