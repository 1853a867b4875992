"""Fixtures of the bounce tests: real postfix and dovecot in a world-readable temp folder
(their daemons run as other users, which cannot enter pytest's private tmp_path)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bounces.servers import Dovecot, Postfix, start_dovecot, start_postfix

READERS = ["ana@readers.example.com", "ben@readers.example.com", "cleo@readers.example.com"]


@pytest.fixture
def mail_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="nl-mail-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postfix(mail_root: Path) -> Iterator[Postfix]:
    server = start_postfix(mail_root / "postfix", READERS)
    yield server
    server.stop()


@pytest.fixture
def dovecot(mail_root: Path, postfix: Postfix) -> Iterator[Dovecot]:
    server = start_dovecot(mail_root / "dovecot", postfix.maildir("bounces"))
    yield server
    server.stop()
