"""The cycle collector paused while bulk work runs (an import, SendGrid payloads): their
many short-lived objects would otherwise set off full collections of the whole heap, which
find nothing and took a large share of that work's time (measured in bench/).

The switch is for the whole process and such work may run in several threads at once (the
studio's imports, the SendGrid transport's pool): the first to start turns collection off,
the last to end turns it back on, and only if it was on before."""

from __future__ import annotations

import gc
import threading


class _Pause:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0 and self._was_enabled:
                gc.enable()


collector_paused = _Pause()  # ``with collector_paused: ...``
