from __future__ import annotations

import csv
import io
import json
import mailbox
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.sending.editions import get_edition
from pipeline.store.tables import deliveries, subscribers
from tests.conftest import TEST_SECRET
from tests.sending.conftest import add_audience

SLUG = "2026-12-01-microneedling"


@pytest.fixture
def run(project_dir: Path, db_url: str) -> object:
    runner = CliRunner()
    env = {"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": db_url}

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(
            app, ["--config", str(project_dir / "newsletter.toml"), *args], env=env, input=stdin
        )

    return invoke


def test_send_twice_sends_once(run: object, project_dir: Path, engine: Engine) -> None:
    add_audience(engine, 12, name=lambda i: ["Zoë Ünal", "Bob"][i % 2])
    first = run("issue", "send", SLUG, "--yes")  # type: ignore[operator]
    assert first.exit_code == 0, first.output
    outbox = project_dir / "var" / "outbox"
    assert f"{SLUG}: 12 sent via maildir {outbox / 'new'}." in first.output
    assert len(mailbox.Maildir(outbox).keys()) == 12
    second = run("issue", "send", SLUG, "--yes")  # type: ignore[operator]
    assert second.exit_code == 0
    assert second.output.startswith(f"{SLUG} was already sent to 12 recipient(s) on ")
    assert second.output.endswith("; nothing to send.\n")
    assert len(mailbox.Maildir(outbox).keys()) == 12


def test_send_without_yes_and_without_a_terminal_refuses(run: object, engine: Engine) -> None:
    add_audience(engine, 3)
    result = run("issue", "send", SLUG)  # type: ignore[operator]
    assert result.exit_code == 1
    assert (
        f"Error: not sending {SLUG} ('Microneedling, explained: what it is and what to expect') "
        "to 3 recipient(s) without confirmation (pass --yes to send)"
    ) in result.output.replace("\n", " ")


def test_dry_run_shows_count_and_three_samples(
    run: object, project_dir: Path, engine: Engine
) -> None:
    add_audience(engine, 5, name=lambda i: f"Person{i} Example")
    result = run("issue", "send", SLUG, "--dry-run")  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert f"Dry run: {SLUG} would go to 5 recipient(s) on beauty-tips" in result.output
    assert result.output.count("--- sample ") == 3
    assert "To: Person0 Example <reader0@example.org>" in result.output
    assert "Hi Person2," in result.output
    assert not (project_dir / "var" / "outbox").exists()
    with pytest.raises(Exception, match="no edition"):
        get_edition(engine, SLUG)


def test_test_to_is_repeatable(run: object, project_dir: Path, engine: Engine) -> None:
    result = run(  # type: ignore[operator]
        "issue", "send", SLUG, "--test-to", "ann@example.org", "--test-to", "bob@example.org"
    )
    assert result.exit_code == 0, result.output
    assert result.output.count(f"Sent a test copy of {SLUG} to ") == 2
    box = mailbox.Maildir(project_dir / "var" / "outbox")
    assert sorted(m["To"] for m in box) == ["ann@example.org", "bob@example.org"]
    with pytest.raises(Exception, match="no edition"):
        get_edition(engine, SLUG)


def test_test_copy_leaves_the_ledger_alone(run: object, project_dir: Path, engine: Engine) -> None:
    result = run("issue", "send", SLUG, "--test-to", "seed@example.org")  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert f"Sent a test copy of {SLUG} to seed@example.org via maildir" in result.output
    box = mailbox.Maildir(project_dir / "var" / "outbox")
    assert [m["To"] for m in box] == ["seed@example.org"]
    with pytest.raises(Exception, match="no edition"):
        get_edition(engine, SLUG)


def test_status_report_cancel_and_retry(run: object, project_dir: Path, engine: Engine) -> None:
    ids = add_audience(engine, 6)
    assert run("issue", "send", SLUG, "--yes").exit_code == 0  # type: ignore[operator]
    edition = get_edition(engine, SLUG)
    with engine.begin() as conn:  # two deliveries failed, as a transport would record it
        conn.execute(
            update(deliveries)
            .where(deliveries.c.subscriber_id.in_(ids[:2]))
            .values(status="failed", error="SMTP 550 5.1.1 Recipient address rejected")
        )
    status = run("issue", "status", SLUG, "--json")  # type: ignore[operator]
    data = json.loads(status.output)
    assert data["counts"]["sent"] == 4 and data["counts"]["failed"] == 2
    assert data["status"] == "sent" and data["total"] == 6

    report = run("issue", "report", SLUG, "--csv")  # type: ignore[operator]
    rows = list(csv.DictReader(io.StringIO(report.output)))
    assert len(rows) == 6
    failed = [r for r in rows if r["delivered"] == "no"]
    assert {r["reason"] for r in failed} == {"SMTP 550 5.1.1 Recipient address rejected"}
    target = project_dir / "report.csv"
    written = run("issue", "report", SLUG, "--csv", str(target))  # type: ignore[operator]
    assert written.output == f"Wrote 6 row(s) to {target}\n"
    nowhere = project_dir / "no-such-folder" / "report.csv"
    refused = run("issue", "report", SLUG, "--csv", str(nowhere))  # type: ignore[operator]
    assert (refused.exit_code, refused.output) == (
        1,
        f"Error: {nowhere}: cannot write the file: No such file or directory"
        " (name a file in a folder that exists and that you can write to)\n",
    )

    retry = run("issue", "retry-failed", SLUG)  # type: ignore[operator]
    assert retry.exit_code == 0, retry.output
    assert "Retrying 2 failed deliveries." in retry.output
    assert get_edition(engine, SLUG).status == "sent"
    assert len(mailbox.Maildir(project_dir / "var" / "outbox").keys()) == 8

    cancel = run("issue", "cancel", SLUG)  # type: ignore[operator]
    assert cancel.exit_code == 1
    assert "Error: 2026-12-01-microneedling is sent and cannot be cancelled" in cancel.output
    assert edition.id == get_edition(engine, SLUG).id


def test_cancel_and_resume_messages(run: object, engine: Engine) -> None:
    ids = add_audience(engine, 3)
    resume = run("issue", "resume", SLUG)  # type: ignore[operator]
    assert resume.exit_code == 1
    assert f"Error: no edition '{SLUG}' in the database" in resume.output
    # Unsubscribed after the audience snapshot: skipped, and the report says why.
    assert run("issue", "send", SLUG, "--dry-run").exit_code == 0  # type: ignore[operator]
    with engine.begin() as conn:
        conn.execute(
            update(subscribers).where(subscribers.c.id == ids[0]).values(status="unsubscribed")
        )
    sent = run("issue", "send", SLUG, "--yes")  # type: ignore[operator]
    assert "2 sent" in sent.output and "edition is sent" in sent.output
    report = run("issue", "report", SLUG)  # type: ignore[operator]
    assert "2 got it; 0 failed, 0 skipped" in report.output
    resume = run("issue", "resume", SLUG)  # type: ignore[operator]
    assert resume.output == f"{SLUG} was already sent; nothing to resume.\n"


def test_only_a_process_that_ends_with_its_command_freezes_its_heap_for_a_send(
    run: object, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console script (``one_shot``) puts its start-up heap out of the cycle
    collector's reach before sending; a process that goes on (this test's, a server's)
    never does, since frozen objects are never collected."""
    import gc
    import importlib

    cli_app = importlib.import_module("pipeline.cli.app")  # the module, not the Typer app

    add_audience(engine, 3)
    monkeypatch.setitem(cli_app._state, "one_shot", False)
    cli_app.before_long_work()
    assert gc.get_freeze_count() == 0  # a test's process: nothing frozen
    cli_app.one_shot()
    try:
        sent = run("issue", "send", SLUG, "--yes")  # type: ignore[operator]
        assert sent.exit_code == 0, sent.output
        assert "3 sent via maildir" in sent.output
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
