"""`newsletter feeds add|list|remove|fetch`, `inbox list`, `digest run` in a copied project."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import app
from tests.conftest import TEST_SECRET
from tests.feeds.samples import ATOM_10, MALFORMED, RSS_20
from tests.feeds.server import FeedServer, running_server

NOW = "2026-12-01T09:00:00+00:00"
Run = Callable[..., Result]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from running_server()


@pytest.fixture
def cli(project_dir: Path, db_url: str) -> Run:
    def run(*args: str) -> Result:
        return CliRunner().invoke(
            app,
            ["--config", str(project_dir / "newsletter.toml"), *args],
            env={
                "NEWSLETTER_SECRET_KEY": TEST_SECRET,
                "NEWSLETTER_DATABASE_URL": db_url,
                "NEWSLETTER_NOW": NOW,
            },
        )

    return run


def test_add_list_remove(cli: Run, project_dir: Path) -> None:
    (project_dir / "feeds").mkdir()
    (project_dir / "feeds" / "local.xml").write_text(RSS_20)
    result = cli(
        "feeds", "add", "https://skin.example.com/feed", "--name", "Skin", "--tags", "news,tips"
    )
    assert (result.exit_code, result.stdout) == (
        0,
        "Added feed Skin [news, tips]: https://skin.example.com/feed\n",
    )
    local = project_dir / "feeds" / "local.xml"
    assert cli("feeds", "add", str(local)).exit_code == 0
    listed = json.loads(cli("feeds", "list", "--json").stdout)
    assert [(f["id"], f["url"], f["name"], f["tags"], f["origin"]) for f in listed] == [
        (1, "https://skin.example.com/feed", "Skin", ["news", "tips"], "cli"),
        (2, str(local), "", [], "cli"),
    ]
    again = cli("feeds", "add", "https://skin.example.com/feed")
    assert (again.exit_code, again.stderr) == (
        1,
        "Error: the feed https://skin.example.com/feed is already added"
        " (see 'newsletter feeds list'; remove it first to change it)\n",
    )
    table = cli("feeds", "list")
    assert "never fetched" in table.stdout
    removed = cli("feeds", "remove", "Skin")
    assert removed.stdout == "Removed feed Skin: https://skin.example.com/feed\n"
    missing = cli("feeds", "remove", "Skin")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "Error: no feed 'Skin' (see 'newsletter feeds list' for the URLs)\n",
    )


def test_fetch_reports_each_feed_and_goes_on(cli: Run, feed_server: FeedServer) -> None:
    cli("feeds", "add", feed_server.add("/rss", RSS_20), "--name", "Skin", "--tags", "news")
    cli("feeds", "add", feed_server.add("/down", "x", status=500), "--name", "Down")
    cli("feeds", "add", feed_server.add("/broken", MALFORMED), "--name", "Broken")
    cli("feeds", "add", feed_server.add("/atom", ATOM_10), "--name", "Atom")
    result = cli("feeds", "fetch")
    assert result.exit_code == 1
    assert result.stdout == (
        "Skin: 3 new, 0 duplicate(s) of 3\n"
        "Broken: 1 new, 0 duplicate(s) of 1\n"
        "Atom: 1 new, 0 duplicate(s) of 1\n"
        "4 feed(s) fetched: 5 new entries, 1 failed.\n"
    )
    assert result.stderr == (
        "Failed: Down: HTTP 500 Internal Server Error\n"
        "Warning: Broken: not well-formed, entries kept:"
        " <unknown>:4:17: not well-formed (invalid token)\n"
    )
    listed = json.loads(cli("feeds", "list", "--json").stdout)
    assert [(f["name"], f["last_status"]) for f in listed] == [
        ("Skin", "ok"),
        ("Down", "error"),
        ("Broken", "ok"),
        ("Atom", "ok"),
    ]
    as_json = json.loads(cli("feeds", "fetch", "Skin", "--json").stdout)
    assert as_json == [
        {
            "url": feed_server.url("/rss"),
            "name": "Skin",
            "status": "ok",
            "entries": 3,
            "added": 0,
            "duplicates": 3,
            "warning": None,
            "error": None,
        }
    ]


def test_standing_feeds_are_synced_in(cli: Run, project_dir: Path, feed_server: FeedServer) -> None:
    url = feed_server.add("/standing", ATOM_10)
    config = project_dir / "newsletter.toml"
    config.write_text(
        config.read_text()
        + f'\n[[feeds.sources]]\nurl = "{url}"\nname = "Standing"\ntags = ["routines-weekly"]\n'
    )
    result = cli("feeds", "fetch")
    assert (result.exit_code, result.stdout) == (
        0,
        "Standing: 1 new, 0 duplicate(s) of 1\n1 feed(s) fetched: 1 new entry, 0 failed.\n",
    )
    listed = json.loads(cli("feeds", "list", "--json").stdout)
    assert [(f["name"], f["origin"]) for f in listed] == [("Standing", "config")]


def test_inbox_list(cli: Run, feed_server: FeedServer) -> None:
    cli("feeds", "add", feed_server.add("/rss", RSS_20), "--name", "Skin", "--tags", "news")
    cli("feeds", "add", feed_server.add("/atom", ATOM_10), "--name", "Atom")
    assert cli("feeds", "fetch").exit_code == 0
    everything = json.loads(cli("inbox", "list", "--json").stdout)
    assert len(everything) == 4
    recent = json.loads(cli("inbox", "list", "--since", "3d", "--json").stdout)
    assert [e["title"] for e in recent] == [
        "Masks for winter",
        "Retinol: what the studies say",
        "Sunscreen every day",
    ]
    assert recent[1]["published_at"] == "2026-11-30T09:00:00+00:00"
    assert recent[1]["image"] == "https://cdn.example.com/retinol.jpg"
    tagged = json.loads(cli("inbox", "list", "--tag", "routines", "--json").stdout)
    assert [e["source"] for e in tagged] == ["Atom"]
    table = cli("inbox", "list", "--since", "1d")
    assert table.exit_code == 0 and "Masks for winter" in table.stdout
    bad = cli("inbox", "list", "--since", "lately")
    assert (bad.exit_code, bad.stderr) == (
        1,
        "Error: cannot read --since 'lately' (use a number and a unit: 30m, 12h, 7d or 2w)\n",
    )


def test_issue_new_from_feeds_and_digest_run(
    cli: Run, project_dir: Path, feed_server: FeedServer
) -> None:
    cli("feeds", "add", feed_server.add("/rss", RSS_20), "--name", "Skin", "--tags", "news")
    cli("feeds", "fetch")
    off = cli("digest", "run")
    assert (off.exit_code, off.stdout) == (
        0,
        "Skipped: the digest is off (set enabled = true under [digest] in newsletter.toml)\n",
    )
    forced = cli("digest", "run", "--force", "--json")
    report = json.loads(forced.stdout)
    assert (report["status"], report["slug"], report["entries"]) == (
        "drafted",
        "digest-2026-12-01",
        3,
    )
    assert (project_dir / "issues" / "digest-2026-12-01" / "issue.md").is_file()
    none_left = cli("issue", "new", "2026-12-02-news", "--from-feeds", "--since", "7d")
    assert (none_left.exit_code, none_left.stderr) == (
        1,
        "Error: no unused inbox entries from the last 7d"
        " (run 'newsletter feeds fetch', or widen --since / --tag)\n",
    )


def test_feeds_and_inbox_tables_fit_80_columns(
    project_dir: Path, db_url: str, feed_server: FeedServer
) -> None:
    """One line per feed and per entry at 80 columns: dates whole, long text shortened."""
    env = {
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_NOW": NOW,
        "COLUMNS": "80",
    }

    def run(*args: str) -> Result:
        config = ["--config", str(project_dir / "newsletter.toml")]
        return CliRunner().invoke(app, [*config, *args], env=env)

    run("feeds", "add", feed_server.add("/rss", RSS_20), "--name", "Skin", "--tags", "news")
    run("feeds", "add", feed_server.add("/down", "x", status=500), "--name", "[Down] feed")
    run("feeds", "fetch")
    for command, rows in ((("feeds", "list"), 2), (("inbox", "list"), 3)):
        result = run(*command)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, result.stdout
        assert len(lines) == 3 + rows, result.stdout  # title, header, rule, one line a row
        dated = [line for line in lines[3:] if re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line)]
        assert len(dated) >= 2, result.stdout  # dates whole (one sample entry has none: "-")
    assert "[Down]" in run("feeds", "list").stdout  # text, not rich markup
