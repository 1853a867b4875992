"""The default transport: one file per message in a Maildir (any mail client reads it)."""

from __future__ import annotations

import mailbox
from collections.abc import Sequence
from pathlib import Path

from pipeline.private import make_private, private_dir
from pipeline.sending.transports.base import OnResults, Outgoing, Result, Transport


class MaildirTransport(Transport):
    name = "maildir"
    batch_size = 500
    # A local file per message costs far less than a database commit: answers are written
    # 50 at a time (or every quarter second), so a kill -9 duplicates at most 50 files.
    record_every = 50

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None

    def _mailbox(self) -> mailbox.Maildir:
        if self._box is None:
            for sub in ("tmp", "new", "cur"):  # 0700: messages hold personal data
                private_dir(self.path / sub)
            self._box = mailbox.Maildir(self.path, create=True)
        return self._box

    def send_batch(
        self, messages: Sequence[Outgoing], on_results: OnResults | None = None
    ) -> list[Result]:
        box = self._mailbox()
        results: list[Result] = []
        for i, message in enumerate(messages):
            try:
                key = box.add(message.data)
                make_private(self.path / "new" / key)
                result = Result("sent", provider_id=key)
            except OSError as exc:
                result = Result("transient", error=f"cannot write to {self.path}: {exc}")
            results.append(result)
            if on_results is not None:
                on_results([(i, result)])
        return results

    def describe(self) -> str:
        return f"maildir {self.path / 'new'}"
