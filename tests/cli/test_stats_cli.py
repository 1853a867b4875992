"""`newsletter issue stats` with the per-link table and charts, and `newsletter stats`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, update
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import Settings
from pipeline.store.tables import editions
from pipeline.subscribers import service
from pipeline.tracking.classify import HUMAN, Verdict
from pipeline.tracking.record import Hit, write_hits
from tests.cli.test_web_cli import _env
from tests.tracking.test_record import SENT, click, edition_with


def _engagement(engine: Engine, settings: Settings) -> None:
    service.sync_lists(engine, settings)
    eid, (ann, bob, cy) = edition_with(engine, 3)
    with engine.begin() as conn:
        conn.execute(
            update(editions).where(editions.c.id == eid).values(status="sent", started_at=SENT)
        )
    write_hits(
        settings,
        engine,
        [
            Hit("open", ann, eid, None, SENT + timedelta(seconds=3), HUMAN),  # prefetch
            Hit("open", ann, eid, None, SENT + timedelta(hours=2), HUMAN),
            Hit(
                "open", bob, eid, None, SENT + timedelta(hours=5), Verdict("machine", "apple_proxy")
            ),
            click(eid, ann, 1, 7300),
            click(eid, bob, 1, 20000),
            click(eid, cy, 0, 50),  # a scanner: honeypot, then every link
            click(eid, cy, 1, 50.2),
            click(eid, cy, 2, 50.4),
        ],
    )


def test_issue_stats_shows_people_machines_and_links(
    project_dir: Path, db_url: str, engine: Engine, settings: Settings
) -> None:
    _engagement(engine, settings)
    env = _env(project_dir, db_url)
    result = CliRunner().invoke(app, ["issue", "stats", "2026-12-01-t", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["sent"], data["opens"], data["clicks"]) == (3, 2, 2)
    assert (data["machine_opens"], data["machine_clicks"]) == (2, 3)
    assert data["rates"]["click_to_open"] == 1.0
    assert [
        (k["index"], k["unique_clicks"], k["clicks"], k["machine_clicks"]) for k in data["links"]
    ] == [
        (1, 2, 2, 1),
        (2, 0, 0, 1),
        (3, 0, 0, 0),
        (0, 0, 0, 1),
    ]

    table = CliRunner().invoke(app, ["issue", "stats", "2026-12-01-t"], env=env)
    assert table.exit_code == 0, table.output
    assert "Click-to-open" in table.stdout and "Link 1" in table.stdout
    assert "https://shop.example/1" in table.stdout
    assert "(hidden scanner trap)" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()[:-1]) <= 80  # tables


def test_issue_stats_writes_charts(
    project_dir: Path, db_url: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _engagement(engine, settings)
    env = _env(project_dir, db_url)
    svg, png = tmp_path / "issue.svg", tmp_path / "charts" / "issue.png"
    for target in (svg, png):
        result = CliRunner().invoke(
            app, ["issue", "stats", "2026-12-01-t", "--chart", str(target)], env=env
        )
        assert result.exit_code == 0, result.output
        assert f"Chart written to {target}" in result.stdout
    text = svg.read_text()
    assert text.startswith("<svg") and "Opens and clicks, first 72 hours" in text
    assert "Clicks per link" in text and "1. Link 1" in text
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    bad = CliRunner().invoke(
        app, ["issue", "stats", "2026-12-01-t", "--chart", str(tmp_path / "c.pdf")], env=env
    )
    assert bad.exit_code == 1
    assert bad.stderr == (
        "Error: cannot write a chart to c.pdf: unknown format .pdf (name the file .svg or "
        ".png, e.g. --chart stats.svg)\n"
    )


def test_newsletter_stats_compares_issues_and_shows_growth(
    project_dir: Path, db_url: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _engagement(engine, settings)
    for n in range(3):
        service.add_subscriber(
            engine, f"new{n}@example.com", lists=["beauty-tips"], method="cli", confirmed=True
        )
    env = _env(project_dir, db_url)
    result = CliRunner().invoke(app, ["stats", "--json", "--weeks", "4"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(i["slug"], i["opens"], i["clicks"]) for i in data["issues"]] == [
        ("2026-12-01-t", 2, 2)
    ]
    assert len(data["growth"]) == 4
    assert data["growth"][-1]["confirmed"] == 3 and data["growth"][-1]["net"] == 3

    chart = tmp_path / "newsletter.svg"
    table = CliRunner().invoke(app, ["stats", "--chart", str(chart)], env=env)
    assert table.exit_code == 0, table.output
    assert "Recent issues" in table.stdout and "List growth per week" in table.stdout
    assert "2026-12-01-t" in table.stdout and "+3" in table.stdout
    assert "List growth per week" in chart.read_text()
