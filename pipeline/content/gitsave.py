"""``[studio] git_commit = true``: every save from the studio becomes a git commit of the
files it wrote, with the editor as its author (the committer is "newsletter studio").

Only the named paths are committed (``git commit -- PATHS``), so whatever else is staged or
changed in the working tree is left alone.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from pipeline.config import Settings
from pipeline.errors import ContentError


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def commit_paths(
    settings: Settings, paths: Sequence[Path], *, author: str, email: str, message: str
) -> str | None:
    """Commit ``paths`` when ``[studio] git_commit`` is on; returns the new commit id (None
    when it is off or nothing changed). Raises ContentError when git refuses."""
    if not settings.studio.git_commit or not paths:
        return None
    root = settings.root.resolve()
    rels = [str(p.resolve().relative_to(root)) for p in paths]
    if _git(root, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise ContentError(
            f"{root} is not a git repository",
            fix="run 'git init' there, or set [studio] git_commit = false",
        )
    added = _git(root, "add", "--", *rels)
    if added.returncode != 0:
        raise ContentError(f"git add failed: {added.stderr.strip()}", fix="look at the repository")
    if _git(root, "diff", "--cached", "--quiet", "--", *rels).returncode == 0:
        return None  # the same text was saved again
    clean = " ".join(author.replace("<", "").replace(">", "").split()) or "Editor"
    done = _git(
        root,
        "-c",
        "user.name=newsletter studio",
        "-c",
        "user.email=studio@localhost",
        "commit",
        "--quiet",
        "--no-verify",
        f"--author={clean} <{email.replace('>', '')}>",
        "-m",
        message,
        "--",
        *rels,
    )
    if done.returncode != 0:
        raise ContentError(
            f"git commit failed: {done.stderr.strip()}", fix="look at the repository"
        )
    return _git(root, "rev-parse", "HEAD").stdout.strip()
