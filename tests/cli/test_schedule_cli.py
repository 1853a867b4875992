"""`newsletter issue schedule/reschedule/unschedule`, `schedule`, `send-due`, `cron-line`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.config import Settings
from pipeline.sending.editions import get_edition, transition
from tests.conftest import TEST_SECRET, free_port
from tests.schedule.conftest import SLUG, add_audience, outbox

BEFORE = "2026-11-20T10:00:00+00:00"
ON_TIME = "2026-12-01T09:02:00+00:00"
TOO_LATE = "2026-12-02T10:00:00+00:00"

Run = Callable[..., Result]


@pytest.fixture
def cli(project_dir: Path, db_url: str) -> Run:
    def run(*args: str, now: str = BEFORE) -> Result:
        return CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), *args],
            env={
                "NEWSLETTER_SECRET_KEY": TEST_SECRET,
                "NEWSLETTER_DATABASE_URL": db_url,
                "NEWSLETTER_NOW": now,
                "COLUMNS": "200",
            },
        )

    return run


@pytest.fixture
def cli_nodb(project_dir: Path) -> Run:
    """For commands that never open the database."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), *args],
            env={"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": "sqlite:///-"},
        )

    return run


def scheduled(cli: Run, settings: Settings, engine: Engine, n: int = 5) -> None:
    add_audience(engine, settings, n)
    result = cli("issue", "schedule", SLUG, "--at", "2026-12-01 09:00")
    assert result.exit_code == 0, result.output


# ---- schedule / reschedule / unschedule -----------------------------------------------------
def test_schedule_prints_the_time_in_both_zones(
    cli: Run, settings: Settings, engine: Engine
) -> None:
    add_audience(engine, settings, 1)
    result = cli("issue", "schedule", SLUG, "--at", "2026-12-01 09:00")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Scheduled {SLUG} for 2026-12-01 09:00 GMT (2026-12-01 09:00 UTC) to beauty-tips.\n"
        "Built, checked and frozen: edits made from now on are sent only after "
        f"'newsletter issue reschedule {SLUG}'.\n"
        "No send-due run is recorded yet: cron must run 'newsletter send-due' "
        "('newsletter cron-line' prints the crontab line).\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--at", "2026-11-19 09:00"],
            "2026-11-19 09:00 GMT is in the past: it is now 2026-11-20 10:00 GMT "
            "(pick a later time)",
        ),
        (
            ["--at", "2027-03-14 02:30", "--tz", "America/New_York"],
            "2027-03-14 02:30 does not exist in America/New_York (clocks go forward from 02:00 "
            "to 03:00); use 01:59 or 03:00",
        ),
        (
            ["--at", "2027-10-31 01:30"],
            "2027-10-31 01:30 happens twice in Europe/London (clocks go back from 02:00 to "
            "01:00); add --fold first|second or write the offset: 2027-10-31 01:30+01:00 "
            "(first, BST) or 2027-10-31 01:30+00:00 (second, GMT)",
        ),
        (
            ["--at", "2026-12-01 09:00", "--tz", "Europe/Lndon"],
            "unknown time zone 'Europe/Lndon' (use an IANA name such as 'Europe/London' or "
            "'America/New_York')",
        ),
    ],
)
def test_schedule_errors_are_one_line(cli: Run, args: list[str], message: str) -> None:
    result = cli("issue", "schedule", SLUG, *args)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""


def test_fold_chooses_and_json_reports(cli: Run, settings: Settings, engine: Engine) -> None:
    add_audience(engine, settings, 1)
    result = cli(
        "issue", "schedule", SLUG, "--at", "2027-10-31 01:30", "--fold", "second", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["send_at"] == "2027-10-31T01:30:00+00:00"
    assert data["send_at_local"] == "2027-10-31 01:30 GMT"
    assert (data["slug"], data["source"], data["lists"]) == (SLUG, "--at", ["beauty-tips"])


def test_reschedule_and_unschedule(cli: Run, settings: Settings, engine: Engine) -> None:
    add_audience(engine, settings, 1)
    assert cli("issue", "schedule", SLUG, "--at", "2026-12-01 09:00").exit_code == 0
    moved = cli("issue", "reschedule", SLUG, "--at", "2026-12-02 08:15")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout.startswith(f"Rescheduled {SLUG} for 2026-12-02 08:15 GMT")
    gone = cli("issue", "unschedule", SLUG)
    assert gone.exit_code == 0, gone.output
    assert gone.stdout == (
        f"Unscheduled {SLUG} (it was due 2026-12-02 08:15 GMT). Schedule it again with "
        f"'newsletter issue schedule {SLUG} --at ...'.\n"
    )
    assert get_edition(engine, SLUG).status == "frozen"


# ---- the listing -----------------------------------------------------------------------------
def test_schedule_listing_table_and_json(cli: Run, settings: Settings, engine: Engine) -> None:
    empty = cli("schedule")
    assert empty.exit_code == 0
    assert empty.stdout == (
        "Nothing scheduled.\n"
        "No send-due run recorded yet: 'newsletter cron-line' prints the crontab line.\n"
    )
    scheduled(cli, settings, engine, 3)
    table = cli("schedule", now="2026-12-01T08:00:00+00:00")
    assert table.exit_code == 0
    assert "Upcoming" in table.stdout and "2026-12-01 09:00 GMT" in table.stdout
    assert "in 1 h" in table.stdout

    assert cli("send-due", now=ON_TIME).exit_code == 0
    data = json.loads(cli("schedule", "--json", now=ON_TIME).stdout)
    assert data["upcoming"] == [] and data["running"] == []
    [recent] = data["recent"]
    assert (recent["slug"], recent["status"], recent["deliveries"]) == (SLUG, "sent", {"sent": 3})
    assert data["last_run"]["status"] == "ok"
    assert data["last_run"]["sent"] == 3


# ---- send-due --------------------------------------------------------------------------------
def test_nothing_due_is_one_line_and_exit_0(cli: Run, settings: Settings, engine: Engine) -> None:
    result = cli("send-due")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Nothing due. No edition is scheduled.\n",
        "",
    )
    scheduled(cli, settings, engine, 1)
    result = cli("send-due", now="2026-12-01T06:30:00+00:00")
    assert (result.exit_code, result.stdout) == (
        0,
        f"Nothing due. Next: {SLUG} at 2026-12-01 09:00 GMT (in 2 h 30 min).\n",
    )
    assert cli("send-due", "--quiet").stdout == ""


def test_send_due_reports_what_it_sent(cli: Run, settings: Settings, engine: Engine) -> None:
    scheduled(cli, settings, engine, 4)
    result = cli("send-due", now=ON_TIME)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"claimed {SLUG} (due 2026-12-01 09:00 GMT)\n"
        f"sent {SLUG}: 4 sent by this run, 4 in all\n"
        "send-due: 1 edition(s), 4 message(s) sent by this run.\n"
    )
    assert len(outbox(settings)) == 4


def test_quiet_prints_nothing_when_all_is_well(
    cli: Run, settings: Settings, engine: Engine
) -> None:
    scheduled(cli, settings, engine, 2)
    result = cli("send-due", "--quiet", now=ON_TIME)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert len(outbox(settings)) == 2


def test_a_missed_edition_fails_the_run_even_when_quiet(
    cli: Run,
    settings: Settings,
    engine: Engine,
) -> None:
    scheduled(cli, settings, engine, 2)
    result = cli("send-due", "--quiet", now=TOO_LATE)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"missed {SLUG}: it was due 2026-12-01 09:00 GMT, 1 day 1 h ago (more than "
        "sending.max_lateness_hours = 24); send it anyway with 'newsletter send-due "
        f"--include-late' or move it with 'newsletter issue reschedule {SLUG} --at ...'\n"
    )
    assert outbox(settings) == []
    late = cli("send-due", "--include-late", "--quiet", now=TOO_LATE)
    assert (late.exit_code, late.stdout, late.stderr) == (0, "", "")
    assert len(outbox(settings)) == 2


def test_json_log_file_lines_parse(
    cli: Run, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    scheduled(cli, settings, engine, 3)
    log = tmp_path / "logs" / "send-due.jsonl"
    args = ("send-due", "--quiet", "--log-file", str(log), "--log-format", "json")
    assert cli(*args, now=ON_TIME).exit_code == 0
    assert cli(*args, now=ON_TIME).exit_code == 0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["claim", "sent", "summary", "nothing_due"]
    assert {e["level"] for e in events} == {"info"}
    sent = events[1]
    assert (sent["slug"], sent["sent"], sent["total"], sent["status"]) == (SLUG, 3, 3, "sent")
    assert sent["message"] == f"sent {SLUG}: 3 sent by this run, 3 in all"
    assert events[2]["ok"] is True and events[2]["sent"] == 3
    assert all(e["time"].endswith("Z") for e in events)


def test_json_to_stdout_and_text_log_file(
    cli: Run, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    result = cli("send-due", "--log-format", "json")
    [line] = result.stdout.splitlines()
    assert json.loads(line)["event"] == "nothing_due"
    log = tmp_path / "send-due.log"
    cli("send-due", "--quiet", "--log-file", str(log))
    [text] = log.read_text().splitlines()
    assert text.endswith(" INFO Nothing due. No edition is scheduled.")


def test_unwritable_log_file(cli_nodb: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli_nodb("send-due", "--log-file", str(blocker / "send-due.log"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write the log file {blocker}/send-due.log")


# ---- cron-line -------------------------------------------------------------------------------
def test_cron_line_uses_absolute_paths(cli_nodb: Run, project_dir: Path) -> None:
    result = cli_nodb("cron-line")
    assert result.exit_code == 0
    line = result.stdout.strip()
    root = project_dir.resolve()
    flock = shutil.which("flock")
    lock = f"{flock} -n {root}/var/send-due.lock " if flock else ""
    assert line.startswith(f"*/5 * * * * {lock}/")
    executable = line.removeprefix(f"*/5 * * * * {lock}").split(" ")[0]
    assert Path(executable).is_absolute() and Path(executable).name == "newsletter"
    assert line.endswith(
        f" --config {root}/newsletter.toml send-due --quiet --log-file {root}/var/log/send-due.log"
    )
    assert "\n" not in line


def test_cron_line_options(cli_nodb: Run, tmp_path: Path) -> None:
    every = cli_nodb("cron-line", "--every", "1", "--no-flock", "--no-log")
    assert every.stdout.startswith("* * * * * /")
    assert "flock" not in every.stdout and "--log-file" not in every.stdout
    odd = cli_nodb(
        "cron-line", "--no-flock", "--log-file", str(tmp_path / "a%b.log"), "--log-format", "json"
    )
    assert odd.stdout.rstrip().endswith(f"--log-file {tmp_path}/a\\%b.log --log-format json")
    bad = cli_nodb("cron-line", "--every", "90")
    assert bad.exit_code == 1
    assert bad.stderr == (
        "Error: --every 90: cron repeats within an hour (give a number of minutes from 1 to 59)\n"
    )
    units = cli_nodb("cron-line", "--systemd")
    assert "# /etc/systemd/system/newsletter-send-due.timer" in units.stdout
    assert "OnCalendar=*:0/5" in units.stdout
    assert "ExecStart=/" in units.stdout and "flock" not in units.stdout


def test_issue_status_says_when_files_changed_since_freezing(
    cli: Run, settings: Settings, engine: Engine
) -> None:
    scheduled(cli, settings, engine, 2)
    assert "changed since it was frozen" not in cli("issue", "status", SLUG).stdout
    path = settings.issues_dir / SLUG / "issue.md"
    path.write_text(path.read_text().replace("all about one treatment", "about one treatment"))
    status = cli("issue", "status", SLUG)
    assert status.exit_code == 0, status.output
    assert (
        f"The files of {SLUG} changed since it was frozen; the frozen edition is what will "
        f"be sent. 'newsletter issue reschedule {SLUG}' freezes the edited files.\n"
    ) in status.stdout
    assert cli("issue", "reschedule", SLUG).exit_code == 0
    assert "changed since it was frozen" not in cli("issue", "status", SLUG).stdout

    # send-due sends the edition as frozen, not the files as they are now
    path.write_text(path.read_text().replace("about one treatment", "about ONE treatment"))
    assert cli("send-due", now=ON_TIME).exit_code == 0
    bodies = [p.read_text() for p in (settings.outbox_dir / "new").iterdir()]
    assert len(bodies) == 2
    assert not any("ONE treatment" in b for b in bodies)
    assert all("about one treatment" in b for b in bodies)


def test_a_paused_edition_is_mentioned_but_does_not_fail_later_runs(
    cli: Run, settings: Settings, engine: Engine
) -> None:
    scheduled(cli, settings, engine, 1)
    edition = get_edition(engine, SLUG)
    assert transition(engine, edition.id, ["scheduled"], "paused", pause_reason="test")
    result = cli("send-due", now=ON_TIME)
    assert (result.exit_code, result.stdout) == (
        0,
        f"{SLUG} is paused and waits for 'newsletter issue resume {SLUG}'\n"
        "Nothing due. No edition is scheduled.\n",
    )
    assert cli("send-due", "--quiet", now=ON_TIME).stdout == ""


def test_a_database_that_cannot_be_opened_is_logged(project_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "send-due.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(project_dir / "newsletter.toml"),
            "send-due",
            "--quiet",
            "--log-file",
            str(log),
            "--log-format",
            "json",
        ],
        env={
            "NEWSLETTER_SECRET_KEY": TEST_SECRET,
            "NEWSLETTER_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x",
        },
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: cannot open the database: ")
    [event] = [json.loads(x) for x in log.read_text().splitlines()]
    assert (event["event"], event["level"]) == ("error", "error")
    assert event["message"] == result.stderr.rstrip("\n")


def test_schedule_warns_when_the_send_date_is_days_from_the_slugs_date(
    cli: Run, settings: Settings, engine: Engine
) -> None:
    add_audience(engine, settings, 1)  # an edition for nobody is refused
    result = cli("issue", "schedule", SLUG, "--at", "2026-12-05 09:00")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Warning: {SLUG} is named for 1 December 2026 but is sent on 5 December 2026"
        " (4 days apart); the email, web version and archive show 5 December 2026: rename"
        " the folder or pick a time with --at\n"
    )
    assert result.stdout.startswith(f"Scheduled {SLUG} for 2026-12-05 09:00 GMT")
