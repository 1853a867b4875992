"""Readable at 80 columns: `issue list` shows one line per issue, nothing broken mid-way,
long values shortened with an ellipsis, and where each issue stands; `schedule` keeps every
value whole (on two lines if need be); the bar of `issue send` keeps its figures."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.cli.tables import Column, fit_table
from pipeline.content.issues import new_issue
from pipeline.sending.editions import store_edition, transition
from tests.cli.test_terminal import _on_terminal, bar_frames
from tests.conftest import TEST_SECRET
from tests.schedule.conftest import add_audience as add_readers
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


def test_schedule_fits_80_columns_and_keeps_every_value_whole(
    project_dir: Path, db_url: str, engine: Engine, make_settings: object
) -> None:
    settings = make_settings(**{"database.url": db_url})  # type: ignore[operator]
    add_readers(engine, settings, 3)
    add_readers(engine, settings, 2, list_slug="news")
    slug = "2027-03-01-retinol-and-sunscreen"
    new_issue(
        settings,
        slug,
        subject="Retinol at night",
        preheader="And sunscreen by day.",
        intro_md="Two habits.",
        lists=["beauty-tips", "news"],
    )
    config = ["--config", str(project_dir / "newsletter.toml")]

    def cli(*args: str, now: str = "2026-11-20T10:00:00+00:00") -> str:
        env = {
            "NEWSLETTER_SECRET_KEY": TEST_SECRET,
            "NEWSLETTER_DATABASE_URL": db_url,
            "NEWSLETTER_NOW": now,
            "COLUMNS": "80",
        }
        result = CliRunner().invoke(app, [*config, *args], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    cli("issue", "schedule", SAMPLE, "--at", "2026-12-01 09:00")
    cli("issue", "schedule", slug, "--at", "2027-03-01 09:00")
    on_time = "2026-12-01T09:02:00+00:00"
    cli("send-due", now=on_time)
    before = json.loads(cli("schedule", "--json", now=on_time))
    table = cli("schedule", now=on_time)
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 80, table
    assert "…" not in table  # nothing cut: what does not fit goes on the next line
    upcoming = next(line for line in lines if line.startswith(slug))
    assert "scheduled" in upcoming and "2027-03-01" in upcoming and "beauty-tips," in upcoming
    words = table.split()
    for whole in ("09:00", "GMT", "news", "in", "89", "days", "23", "h"):
        assert whole in words, table
    recent = next(line for line in lines if line.startswith(SAMPLE))
    assert "sent 3/3" in recent  # status and progress side by side
    assert "finished" in recent and "09:02" in table
    # --json is the same whatever the terminal
    assert json.loads(cli("schedule", "--json", now=on_time)) == before
    [entry] = before["recent"]
    assert (entry["status"], entry["deliveries"], entry["send_at_local"]) == (
        "sent",
        {"sent": 3},
        "2026-12-01 09:00 GMT",
    )


def test_fit_table_wraps_a_wrapping_column_between_words() -> None:
    from rich.console import Console

    table = fit_table(
        [Column("issue"), Column("when", wrap=True), Column("note", wrap=True)],
        [["2027-03-01-" + "x" * 40, "2026-12-01 09:00 GMT", "due now: the next run sends it"]],
        width=80,
    )
    console = Console(width=80, record=True)
    console.print(table)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "2027-03-01-" + "x" * 40 in text  # the fixed column is whole
    assert "2026-12-01" in text.split() and "GMT" in text.split() and "…" not in text


def test_issue_send_bar_fits_80_columns_with_a_long_slug(
    project_dir: Path, db_url: str, engine: Engine, make_settings: object
) -> None:
    settings = make_settings(**{"database.url": db_url})  # type: ignore[operator]
    slug = "2027-03-01-retinol-at-night-and-sunscreen-by-day"
    new_issue(settings, slug, subject="Retinol", preheader="Hi.", intro_md="Two habits.")
    add_audience(engine, 12)
    code, out = _on_terminal(["issue", "send", slug, "--yes"], project_dir, db_url)
    assert code == 0, out
    bars = [frame for frame in bar_frames(out) if "ETA" in frame]
    assert bars, out
    assert all(len(f) <= 80 for f in bars), bars
    assert "12/12" in bars[-1] and "100%" in bars[-1] and "msg/s" in bars[-1]
    assert f"Sending {slug}" in out  # the whole slug, once, above the bar


def test_send_bar_keeps_big_figures_at_80_columns() -> None:
    """A large audience and a fast transport: every figure of the bar still shown."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    from pipeline.cli.sending import send_bar_columns

    console = Console(width=80, file=io.StringIO(), record=True, force_terminal=True)
    progress = Progress(*send_bar_columns(), console=console, auto_refresh=False)
    progress.add_task("", total=1_250_000, completed=312_345, rate="3,301")
    console.print(progress.get_renderable())
    [line] = console.export_text().splitlines()
    assert len(line) <= 80
    for figure in ("312,345/1,250,000", "25%", "3,301 msg/s", "ETA"):
        assert figure in line, line


def _column(text: str, index: int) -> str:
    """The cells of one column of a boxed table, joined: a folded value comes out whole."""
    cells = [line.split("│")[index].strip() for line in text.splitlines() if line.count("│") > 3]
    return "".join(cells)


def test_stats_keep_long_slugs_and_link_addresses_whole_at_80_columns(
    project_dir: Path, db_url: str, engine: Engine, make_settings: object
) -> None:
    from sqlalchemy import update

    from pipeline.store.tables import editions
    from pipeline.subscribers.service import sync_lists
    from pipeline.tracking.links import Link
    from tests.tracking.test_record import SENT

    settings = make_settings(**{"database.url": db_url})  # type: ignore[operator]
    sync_lists(engine, settings)
    slug = "2027-03-01-retinol-at-night-and-sunscreen-by-day"
    url = "https://glownotes.example.com/shop/gentle-cleanser-for-every-skin?size=200ml"
    eid = store_edition(
        engine,
        slug,
        sample_compiled(),
        lists=["beauty-tips"],
        content_hash="0" * 64,
        links=[Link(1, url, "Illustration of a white pump bottle on a shelf")],
    )
    with engine.begin() as conn:
        conn.execute(
            update(editions).where(editions.c.id == eid).values(status="sent", started_at=SENT)
        )
    env = {"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": db_url, "COLUMNS": "80"}
    config = ["--config", str(project_dir / "newsletter.toml")]
    for command, column, whole in ((["issue", "stats", slug], 2, url), (["stats"], 1, slug)):
        result = CliRunner().invoke(app, [*config, *command], env=env)
        assert result.exit_code == 0, result.output
        tables = [line for line in result.stdout.splitlines() if set(line) & set("│┃━─")]
        assert max(len(line) for line in tables) <= 80, result.stdout  # prose soft-wraps
        assert whole in _column(result.stdout, column), result.stdout


def test_issue_status_title_and_report_command_stay_on_one_line(
    project_dir: Path, db_url: str, engine: Engine, make_settings: object
) -> None:
    settings = make_settings(**{"database.url": db_url})  # type: ignore[operator]
    slug = "2027-03-01-retinol-at-night-and-sunscreen-by-day"
    new_issue(settings, slug, subject="Retinol", preheader="Hi.", intro_md="Two habits.")
    add_audience(engine, 2)
    eid = store_edition(engine, slug, sample_compiled(), lists=["beauty-tips"], content_hash="0")
    assert transition(engine, eid, ["frozen"], "sending", started_at=datetime.now(UTC))
    env = {"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": db_url, "COLUMNS": "80"}
    config = ["--config", str(project_dir / "newsletter.toml")]
    status = CliRunner().invoke(app, [*config, "issue", "status", slug], env=env)
    assert status.exit_code == 0, status.output
    assert status.stdout.splitlines()[0].strip() == f"{slug}: sending"
    report = CliRunner().invoke(app, [*config, "issue", "report", slug], env=env)
    assert report.exit_code == 0, report.output
    line = f"Everyone, as CSV: newsletter issue report {slug} --csv report.csv"
    assert line in report.stdout.splitlines()  # soft-wrapped by the terminal, copied whole
