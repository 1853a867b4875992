"""`newsletter lists ...` and `newsletter subscribers ...` in a copied project."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import app
from tests.cli.test_terminal import _on_terminal
from tests.conftest import TEST_SECRET

Run = Callable[..., Result]


@pytest.fixture
def cli(project_dir: Path, db_url: str) -> Run:
    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), *args],
            env={"NEWSLETTER_SECRET_KEY": TEST_SECRET, "NEWSLETTER_DATABASE_URL": db_url},
            input=input,
        )

    return run


def test_import_sample_twice_then_lists_and_count(cli: Run, project_dir: Path) -> None:
    sample = str(project_dir / "subscribers" / "sample.csv")
    first = cli("subscribers", "import", sample)
    assert first.exit_code == 0, first.output
    assert "│ added      │        25 │" in first.stdout
    second = cli("subscribers", "import", sample, "--json")
    assert json.loads(second.stdout) == {
        "file": sample,
        "format": "plain",
        "rows": 25,
        "added": 0,
        "updated": 0,
        "unchanged": 25,
        "suppressed": 0,
        "newly_suppressed": 0,
        "rejected": 0,
        "rejects_file": None,
        "ambiguous_dates": 0,
    }
    lists = json.loads(cli("lists", "list", "--json").stdout)
    assert [(item["slug"], item["counts"]["confirmed"], item["in_config"]) for item in lists] == [
        ("beauty-tips", 19, True),
        ("news", 16, True),
    ]
    assert json.loads(cli("subscribers", "count", "--json").stdout) == {
        "by_status": {"active": 25, "unsubscribed": 0, "bounced": 0, "complained": 0},
        "total": 25,
        "audience": 25,
    }
    news = json.loads(cli("subscribers", "count", "--list", "news", "--json").stdout)
    assert (news["total"], news["audience"]) == (16, 16)
    table = cli("lists", "show", "news")
    assert table.exit_code == 0 and "Beauty news" in table.stdout


def test_add_show_unsubscribe_remove(cli: Run) -> None:
    result = cli("subscribers", "add", "Ann@Example.com", "--name", "Ann Ågren", "--list", "news")
    assert (result.exit_code, result.stdout) == (0, "Added ann@example.com (id 1).\n")
    shown = json.loads(cli("subscribers", "show", "ANN@example.com", "--json").stdout)
    assert (shown["name"], shown["status"], shown["subscriptions"]) == (
        "Ann Ågren",
        "active",
        {"news": "confirmed"},
    )
    listed = json.loads(cli("subscribers", "list", "--list", "news", "--json").stdout)
    assert [r["email"] for r in listed] == ["ann@example.com"]
    result = cli("subscribers", "unsubscribe", "ann@example.com")
    assert result.stdout == (
        "Unsubscribed ann@example.com from every list; the address is suppressed.\n"
    )
    again = cli("subscribers", "add", "ann@example.com", "--list", "news")
    assert (again.exit_code, again.stderr) == (
        1,
        "Error: ann@example.com is suppressed (unsubscribed) and was not added (only if the"
        " person asked to come back: add --resubscribe)\n",
    )
    back = cli("subscribers", "add", "ann@example.com", "--list", "news", "--resubscribe")
    assert back.stdout == "Updated ann@example.com (id 1).\n"
    stranger = cli("subscribers", "unsubscribe", "Stranger@example.com")
    assert stranger.stdout == (
        "stranger@example.com is not a subscriber; the address is suppressed.\n"
    )
    refused = cli("subscribers", "add", "stranger@example.com", "--list", "news")
    assert refused.exit_code == 1
    gone = cli("subscribers", "remove", "ann@example.com")
    assert gone.stdout == "Removed ann@example.com with their subscriptions and history.\n"
    missing = cli("subscribers", "show", "ann@example.com")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "Error: no subscriber ann@example.com (check the address with 'newsletter subscribers"
        " list')\n",
    )


def test_errors_are_one_line(cli: Run, tmp_path: Path) -> None:
    result = cli("subscribers", "add", "ann@example.com")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: which lists? name them with --list (known lists: beauty-tips, news)\n",
    )
    result = cli("subscribers", "add", "nobody", "--list", "news")
    assert result.stderr == (
        "Error: 'nobody' is not a valid email address: An email address must have an @-sign.\n"
    )
    (tmp_path / "x.csv").write_text("Mail\na@example.com\n")
    result = cli("subscribers", "import", str(tmp_path / "x.csv"), "--list", "news")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no email column; headers found: 'Mail' (expected ")
    result = cli("lists", "show", "nope")
    assert result.stderr == "Error: unknown list 'nope' (known lists: beauty-tips, news)\n"


def test_import_rejects_and_export(cli: Run, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("email;name;lists\nb@example.org;Bé;news\nbad;X;news\n")
    result = cli("subscribers", "import", str(source), "--rejects", str(tmp_path / "r.csv"))
    assert result.exit_code == 0
    assert f"Rejected rows, with the reason for each: {tmp_path / 'r.csv'}" in result.stdout
    exported = cli("subscribers", "export", "--list", "news")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["email"], r["name"], r["list"], r["consent_text"]) for r in rows] == [
        ("b@example.org", "Bé", "news", "in.csv")
    ]
    out = tmp_path / "all.csv"
    assert cli("subscribers", "export", "-o", str(out)).stdout == f"Wrote 1 rows to {out}.\n"


def test_rejects_go_under_var_by_default(cli: Run, project_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "shared" / "in.csv"
    source.parent.mkdir()
    source.write_text("email,lists\nbad,news\n")
    result = cli("subscribers", "import", str(source))
    assert result.exit_code == 0, result.output
    target = project_dir / "var" / "rejects" / "in.rejects.csv"
    assert f"Rejected rows, with the reason for each: {target}" in result.stdout
    assert target.exists() and list(source.parent.iterdir()) == [source]


def test_erase_asks_on_a_terminal_and_no_keeps_everything(
    cli: Run, project_dir: Path, db_url: str
) -> None:
    cli("subscribers", "add", "kim@example.com", "--list", "news")
    code, out = _on_terminal(
        ["subscribers", "erase", "kim@example.com"], project_dir, db_url, typed=[("[y/N]: ", "n")]
    )
    assert code == 1 and "This cannot be undone" in out, out
    assert json.loads(cli("subscribers", "export-data", "kim@example.com").stdout)["subscriber"]


def test_export_data_and_erase(cli: Run) -> None:
    cli("subscribers", "add", "kim@example.com", "--list", "news", "--list", "beauty-tips")
    data = json.loads(cli("subscribers", "export-data", "kim@example.com").stdout)
    assert [s["list"] for s in data["subscriptions"]] == ["beauty-tips", "news"]
    refused = cli("subscribers", "erase", "kim@example.com", input="y\n")  # no terminal
    assert refused.exit_code == 1 and "Aborted" not in refused.output
    assert refused.stderr == (
        "Error: not erasing kim@example.com without confirmation (pass --yes to erase without"
        " being asked)\n"
    )
    result = cli("subscribers", "erase", "kim@example.com", "--yes")
    assert result.stdout == (
        "Erased kim@example.com: 2 subscription(s), 2 history entries, 0 delivery record(s)"
        " anonymised. The address is suppressed for good (hash only).\n"
    )
    after = json.loads(cli("subscribers", "export-data", "kim@example.com").stdout)
    assert (after["subscriber"], after["suppression"]["reason"]) == (None, "erased")
    again = cli("subscribers", "add", "kim@example.com", "--list", "news", "--resubscribe")
    assert again.stderr == (
        "Error: kim@example.com is suppressed (erased) and was not added (this suppression is"
        " never lifted)\n"
    )


def test_lists_create(cli: Run) -> None:
    result = cli("lists", "create", "offers", "--name", "Offers", "--single-opt-in")
    assert result.exit_code == 0
    assert result.stdout.startswith("List 'offers' created. To keep it, add it to newsletter")
    assert '[[lists]]\nslug = "offers"\nname = "Offers"\n' in result.stdout
    listed = json.loads(cli("lists", "list", "--json").stdout)
    assert [(i["slug"], i["in_config"], i["double_opt_in"]) for i in listed] == [
        ("beauty-tips", True, True),
        ("news", True, True),
        ("offers", False, False),
    ]
    dup = cli("lists", "create", "offers")
    assert dup.stderr == (
        "Error: the list 'offers' already exists (see 'newsletter lists show offers')\n"
    )


def test_send_queued_sends_what_web_signups_queued(
    cli: Run, project_dir: Path, db_url: str
) -> None:
    """For deployments whose web app leaves the queue to cron (web.queue_interval = 0)."""
    from datetime import UTC, datetime

    from pipeline.config import load_settings
    from pipeline.store.db import open_database
    from pipeline.subscribers.service import sync_lists
    from pipeline.subscribers.signup import Signup, sign_up

    settings = load_settings(
        project_dir / "newsletter.toml",
        {"NEWSLETTER_SECRET_KEY": TEST_SECRET},
        overrides={"database.url": db_url},
    )
    engine = open_database(db_url)
    sync_lists(engine, settings)
    sign_up(settings, engine, Signup("cron@example.com", ["beauty-tips"]), now=datetime.now(UTC))
    engine.dispose()
    first = cli("subscribers", "send-queued")
    assert first.exit_code == 0, first.output
    assert first.stdout == "Queued signup emails: 1 sent.\n"
    again = cli("subscribers", "send-queued", "--json")
    assert json.loads(again.stdout) == {"sent": 0, "skipped": 0, "failed": 0, "retrying": 0}
    outbox = list((project_dir / "var" / "outbox" / "new").iterdir())
    assert len(outbox) == 1 and b"cron@example.com" in outbox[0].read_bytes()


def test_show_tags_and_segments_print_square_brackets_as_written(
    cli: Run, project_dir: Path
) -> None:
    """A name, a field or a tag in square brackets is text, not rich markup (nothing lost)."""
    people = project_dir / "brackets.csv"
    people.write_text("email,name,lists,skin_type\nbr@example.com,[b]Bob[/b],news,[oily]\n")
    assert cli("subscribers", "import", str(people)).exit_code == 0
    assert cli("subscribers", "tag", "br@example.com", "[vip]").exit_code == 0
    shown = cli("subscribers", "show", "br@example.com").stdout
    assert "[b]Bob[/b]" in shown and "[oily]" in shown and "[vip]" in shown
    assert "[vip]" in cli("subscribers", "tags").stdout
    toml = project_dir / "newsletter.toml"
    text = toml.read_text()
    old = 'description = "News from the beauty world, now and then."'
    assert old in text
    toml.write_text(text.replace(old, 'description = "[weekly] News from the beauty world."'))
    assert "[weekly] News" in cli("lists", "show", "news").stdout


def test_export_to_a_folder_that_does_not_exist_says_so(cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "people.csv"
    result = cli("subscribers", "export", "-o", str(target))
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {target}: cannot write the file: No such file or directory"
        " (name a file in a folder that exists and that you can write to)\n",
    )
