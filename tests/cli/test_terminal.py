"""On a real terminal the long commands draw a progress bar, and drawing it works.

The tests elsewhere run the CLI with pipes, where no bar is drawn; here `newsletter` runs in
a pseudo-terminal, as it does when a person types it, for the three commands with a bar:
``subscribers import``, ``issue send`` and ``feeds fetch``.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import TEST_SECRET

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
SLUG = "2026-12-01-microneedling"


def _on_terminal(
    args: list[str], cwd: Path, db_url: str, typed: Sequence[tuple[str, str]] = ()
) -> tuple[int, str]:
    """Run ``newsletter ARGS`` with a pseudo-terminal as stdin, stdout and stderr; for each
    (prompt, line) of ``typed``, type the line once the prompt is on the screen (getpass
    discards what is typed before it writes its prompt: with click's that is the space
    after "Password:")."""
    main, side = pty.openpty()
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_DATABASE_URL": db_url,
        "COLUMNS": "80",
        "TERM": "xterm",
    }
    proc = subprocess.Popen(
        [NEWSLETTER, *args],
        cwd=cwd,
        stdin=side,
        stdout=side,
        stderr=side,
        env=env,
        start_new_session=True,  # getpass must not find the terminal pytest runs in
    )
    os.close(side)
    out = b""
    answers = list(typed)
    looked = 0  # the next prompt is looked for after the last one answered
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if answers and (at := out.find(answers[0][0].encode(), looked)) >= 0:
            looked = at + len(answers[0][0])
            os.write(main, answers.pop(0)[1].encode() + b"\n")
    os.close(main)
    return proc.wait(timeout=120), out.decode("utf-8", "replace")


def bar_frames(out: str) -> list[str]:
    """What a terminal shows of each redraw of a progress bar: the text between carriage
    returns and newlines, without colours or cursor codes."""
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out)
    return [frame for frame in re.split(r"[\r\n]+", plain) if "━" in frame]


def test_import_and_send_draw_their_bars_on_a_terminal(project_dir: Path, db_url: str) -> None:
    code, out = _on_terminal(
        ["subscribers", "import", "subscribers/sample.csv"], project_dir, db_url
    )
    assert code == 0, out
    assert "TypeError" not in out
    assert "added" in out

    code, out = _on_terminal(["issue", "send", SLUG, "--yes"], project_dir, db_url)
    assert code == 0, out
    assert "TypeError" not in out
    assert "Sending " + SLUG in out  # the bar
    assert "edition is sent" in out
    frames = bar_frames(out)
    assert frames and all(len(frame) <= 80 for frame in frames), frames  # COLUMNS=80
    assert "19/19" in frames[-1] and "ETA" in frames[-1]
    assert len(list((project_dir / "var" / "outbox" / "new").iterdir())) == 19


def test_feeds_fetch_draws_its_bar_on_a_terminal(project_dir: Path, db_url: str) -> None:
    # Nothing listens on port 9 of 127.0.0.1: the fetch fails at once, and says so.
    add = ["feeds", "add", "http://127.0.0.1:9/feed.xml", "--name", "Gone"]
    code, out = _on_terminal(add, project_dir, db_url)
    assert code == 0, out
    code, out = _on_terminal(["feeds", "fetch"], project_dir, db_url)
    assert "TypeError" not in out
    assert code == 1, out
    assert "Failed: Gone" in out
    assert all(len(frame) <= 80 for frame in bar_frames(out))
