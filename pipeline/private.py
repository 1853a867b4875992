"""Private files and folders: the database, the outbox and the signing key hold personal data
or secrets, so what the pipeline creates for them is readable by its owner only (folders
0700, files 0600), whatever the umask. Folders that already exist are left as they are."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 folders; return it."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by another process meanwhile
            folder.mkdir(mode=FOLDER_MODE)  # the umask can only take bits away
    if not path.is_dir():  # a file stands where the folder should be
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists (its folder made private)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def make_private(path: Path) -> None:
    """Set a file the pipeline just wrote to 0600 (for writers that do not take a mode)."""
    os.chmod(path, FILE_MODE)
