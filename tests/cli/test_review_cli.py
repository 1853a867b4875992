"""`newsletter issue submit | approve | reject | review`, the review state in `issue list`,
and the refusals of `issue schedule`, `issue send` and `send-due` with require_approval."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.config import Settings
from pipeline.content.issues import new_issue
from tests.conftest import TEST_SECRET
from tests.schedule.conftest import SLUG, add_audience, outbox

BEFORE = "2026-11-20T10:00:00+00:00"
DUE = "2026-12-01T09:02:00+00:00"

Run = Callable[..., Result]


def strict_config(project_dir: Path) -> None:
    path = project_dir / "newsletter.toml"
    path.write_text(path.read_text() + "\n[editorial]\nrequire_approval = true\n")


@pytest.fixture
def cli(project_dir: Path, db_url: str) -> Run:
    def run(*args: str, now: str = BEFORE, columns: str = "200") -> Result:
        return CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), *args],
            env={
                "NEWSLETTER_SECRET_KEY": TEST_SECRET,
                "NEWSLETTER_DATABASE_URL": db_url,
                "NEWSLETTER_NOW": now,
                "COLUMNS": columns,
            },
        )

    return run


def test_submit_approve_and_the_review_log(cli: Run) -> None:
    result = cli("issue", "submit", SLUG, "--by", "Ada")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{SLUG} is in review (submitted by Ada). An approver runs 'newsletter issue approve "
        f"{SLUG} --by NAME' or 'newsletter issue reject {SLUG} --by NAME --reason ...'.\n"
    )
    result = cli("issue", "approve", SLUG, "--by", "Ada")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Ada submitted {SLUG} and cannot approve it too")
    result = cli("issue", "approve", SLUG, "--by", "Grace", now="2026-11-20T11:30:00+00:00")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{SLUG} is approved by Grace (2026-11-20 11:30 GMT).")
    result = cli("issue", "review", SLUG)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"{SLUG}: approved",
        "Approved by Grace (2026-11-20 11:30 GMT).",
        "Approval before scheduling or sending: not required ([editorial] require_approval).",
    ]
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[6:]]
    assert rows == [
        ["2026-11-20 10:00 GMT", "submitted", "Ada"],
        ["2026-11-20 11:30 GMT", "approved", "Grace"],
    ]
    data = json.loads(cli("issue", "review", SLUG, "--json").stdout)
    assert (data["state"], data["approved_by"], len(data["log"])) == ("approved", "Grace", 2)


def test_reject_requires_a_reason_and_json(cli: Run) -> None:
    assert cli("issue", "submit", SLUG, "--by", "Ada").exit_code == 0
    result = cli("issue", "reject", SLUG, "--by", "Grace")
    assert result.exit_code == 2  # typer: missing option
    assert "--reason" in result.output
    result = cli("issue", "reject", SLUG, "--by", "Grace", "--reason", "Check the dates.", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["state"], data["label"]) == ("draft", "rejected")
    assert data["rejection"]["reason"] == "Check the dates."
    result = cli("issue", "approve", SLUG, "--by", "Grace")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {SLUG} is a draft: it must be submitted for review before it can be "
        f"approved (submit it for review first: 'newsletter issue submit {SLUG} --by NAME')\n"
    )


def test_issue_list_shows_the_review_state_in_80_columns(
    cli: Run, settings: Settings, engine: Engine
) -> None:
    for slug in ("2027-01-10-winter", "2027-02-14-serums", "2027-03-01-x"):
        new_issue(
            settings,
            slug,
            subject="An extraordinarily long subject about serums and oils for dry skin",
            preheader="Hi.",
            intro_md="Hello.",
        )
    assert cli("issue", "submit", "2027-01-10-winter", "--by", "Ada").exit_code == 0
    for slug in ("2027-02-14-serums", "2027-03-01-x"):
        assert cli("issue", "submit", slug, "--by", "Ada").exit_code == 0
        assert cli("issue", "approve", slug, "--by", "Grace").exit_code == 0
    path = settings.issues_dir / "2027-03-01-x" / "issue.md"
    path.write_text(path.read_text() + "\nEdited.\n")
    result = cli("issue", "list", columns="80")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    states = {
        cells[0]: cells[1] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[3:])
    }
    assert states["2027-01-10-winter"] == "in review"
    assert states["2027-02-14-serums"] == "approved"
    assert states["2027-03-01-x"] == "changed"
    assert states[SLUG] == "draft"
    data = {r["slug"]: r for r in json.loads(cli("issue", "list", "--json").stdout)}
    assert data["2027-01-10-winter"]["review"]["state"] == "in_review"
    assert data[SLUG]["review"] is None


def test_with_require_approval_schedule_send_and_send_due_refuse(
    cli: Run, project_dir: Path, settings: Settings, engine: Engine
) -> None:
    strict_config(project_dir)
    add_audience(engine, settings, 3)
    result = cli("issue", "schedule", SLUG, "--at", "2026-12-01 09:00")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {SLUG} is not approved ([editorial] require_approval = true) (submit it for "
        f"review: 'newsletter issue submit {SLUG} --by NAME', then another person approves "
        f"it: 'newsletter issue approve {SLUG} --by NAME')\n"
    )
    result = cli("issue", "send", SLUG, "--yes")
    assert result.exit_code == 1
    assert "newsletter issue submit" in result.stderr and outbox(settings) == []

    assert cli("issue", "submit", SLUG, "--by", "Ada").exit_code == 0
    assert cli("issue", "approve", SLUG, "--by", "Grace").exit_code == 0
    result = cli("issue", "schedule", SLUG, "--at", "2026-12-01 09:00")
    assert result.exit_code == 0, result.output
    path = settings.issues_dir / SLUG / "issue.md"
    path.write_text(path.read_text() + "\nA late edit.\n")
    status = cli("issue", "status", SLUG)
    assert status.exit_code == 0, status.output
    assert f"Held: send-due will not send it: {SLUG} changed since Grace approved it" in (
        status.stdout
    )
    listed = cli("issue", "list").stdout
    assert re.search(rf"{SLUG}\s+held \(changed\)", listed), listed

    result = cli("send-due", now=DUE)
    assert result.exit_code == 1
    assert f"held {SLUG}: not sent because {SLUG} changed since Grace approved it" in (
        result.output
    )
    assert "send-due: 1 edition(s), 0 message(s) sent by this run, 1 held (not approved)" in (
        result.output
    )
    assert outbox(settings) == []
    result = cli("issue", "review", SLUG)
    assert f"{SLUG}: changed since approval" in result.stdout
    assert "voided" in result.stdout
