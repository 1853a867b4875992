"""The default transport: one file per message in a Maildir (any mail client reads it)."""

from __future__ import annotations

import mailbox
from collections.abc import Sequence
from pathlib import Path

from pipeline.sending.transports.base import Outgoing, Result, Transport


class MaildirTransport(Transport):
    name = "maildir"
    batch_size = 500

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None

    def _mailbox(self) -> mailbox.Maildir:
        if self._box is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.path, create=True)
        return self._box

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Result]:
        box = self._mailbox()
        results: list[Result] = []
        for message in messages:
            try:
                key = box.add(message.data)
            except OSError as exc:
                results.append(Result("transient", error=f"cannot write to {self.path}: {exc}"))
                continue
            results.append(Result("sent", provider_id=key))
        return results

    def describe(self) -> str:
        return f"maildir {self.path / 'new'}"
