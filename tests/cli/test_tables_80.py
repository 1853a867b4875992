"""Readable at 80 columns: `issue list` shows one line per issue, nothing broken mid-way,
long values shortened with an ellipsis, and where each issue stands."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.cli.tables import Column, fit_table
from pipeline.content.issues import new_issue
from pipeline.sending.editions import store_edition, transition
from tests.conftest import TEST_SECRET
from tests.sending.conftest import add_audience, sample_compiled

SAMPLE = "2026-12-01-microneedling"
LONG = "2027-02-14-serums-and-oils"


def test_issue_list_fits_80_columns_and_shows_each_state(
    project_dir: Path, db_url: str, engine: Engine, make_settings: object
) -> None:
    settings = make_settings(**{"database.url": db_url})  # type: ignore[operator]
    new_issue(settings, LONG, subject="An extraordinarily long subject about serums and oils")
    new_issue(
        settings,
        "2027-01-10-winter",
        subject="Winter skin",
        preheader="Warm up.",
        intro_md="Winter is here.",
    )
    add_audience(engine, 4)
    for slug, status in (("2026-11-01-sent", "sent"), ("2026-11-15-half", "sending")):
        new_issue(settings, slug, subject=slug, preheader="Hi.", intro_md="Hello.")
        eid = store_edition(
            engine, slug, sample_compiled(), lists=["beauty-tips"], content_hash="0" * 64
        )
        assert transition(engine, eid, ["frozen"], "sending", started_at=datetime.now(UTC))
        if status == "sent":
            assert transition(
                engine, eid, ["sending"], "sent", finished_at=datetime(2026, 11, 1, 9, tzinfo=UTC)
            )
    result = CliRunner().invoke(
        app,
        ["--config", str(project_dir / "newsletter.toml"), "issue", "list"],
        env={
            "NEWSLETTER_SECRET_KEY": TEST_SECRET,
            "NEWSLETTER_DATABASE_URL": db_url,
            "COLUMNS": "80",
        },
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 3 + 5  # title, header, rule, then one line per issue
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines[3:]]
    rows = {c[0]: c[1] for c in cells}
    assert rows["2027-01-10-winter"] == "draft"
    assert rows[SAMPLE] == "draft"
    assert rows["2026-11-01-sent"] == "sent 2026-11-01 09:00"
    assert rows["2026-11-15-half"] == "sending 0%"
    long_row = next(line for line in lines if "2027-02-14" in line)
    assert "…" in long_row  # the long subject is shortened, not wrapped
    assert (
        rows[next(k for k in rows if k.startswith("2027-02-14"))] == "check errors (2)"
    )  # placeholders


def test_fit_table_keeps_dates_whole_and_shortens_text() -> None:
    from rich.console import Console

    table = fit_table(
        [Column("when"), Column("subject", flexible=True), Column("note", flexible=True)],
        [["2026-12-01 09:00 GMT", "word " * 30, "another long note " * 5]],
        width=80,
    )
    console = Console(width=80, record=True)
    console.print(table)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert len(text.splitlines()) == 3  # header, rule, one line for the row: nothing wrapped
    assert "2026-12-01 09:00 GMT" in text
    assert text.count("…") == 2


def test_subscribers_and_lists_fit_80_columns(project_dir: Path, db_url: str) -> None:
    env = {"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": db_url, "COLUMNS": "80"}
    config = ["--config", str(project_dir / "newsletter.toml")]
    long_address = "averyveryverylongaddress.with.dots@subdomain.example-company.example.org"
    added = CliRunner().invoke(
        app,
        [*config, "subscribers", "add", long_address, "--list", "news", "--name", "Bart Brown"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    for command, rows in ((["subscribers", "list"], 1), (["lists", "list"], 2)):
        result = CliRunner().invoke(app, [*config, *command], env=env)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, result.stdout
        assert len(lines) == 3 + rows, result.stdout  # title, header, rule, rows: none wrapped
        assert "…" not in " ".join(lines[3:]).split()[0]  # the first column (id, slug) whole
    listed = CliRunner().invoke(app, [*config, "subscribers", "list"], env=env).stdout
    assert "averyveryverylongaddress" in listed and "…" in listed


def test_fit_table_shows_square_brackets_as_written() -> None:
    """Cells are text, not rich markup: "[new]" in a subject is neither a style nor lost."""
    from rich.console import Console

    table = fit_table(
        [Column("issue"), Column("subject", flexible=True)],
        [["2027-01-10-winter", "[new] Winter skin, [bold]sorted[/bold]"]],
        width=80,
    )
    console = Console(width=80, record=True)
    console.print(table)
    assert "[new] Winter skin, [bold]sorted[/bold]" in console.export_text()
