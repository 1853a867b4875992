"""Link tokens: how many per second one core makes, beside its references, in one run.

    python -m bench tokens        # or: python -m bench.bench_tokens

Per recipient the engine makes two tokens (unsubscribe with the edition, preferences), so
at 1,000,000 recipients this is 2,000,000 tokens. Figures, alternated, 3 repetitions
(min/median/max), with the load average beside them:

- ``pipeline.tokens.make_token`` with the cached per-purpose key (what the engine runs);
- the old way, itsdangerous ``TimestampSigner.sign`` (key derived again on every call);
- the floor: one bare ``hmac.digest`` over the same payload (no encoding at all).

Target: "tokens at the speed of HMAC": make_token at least 0.7 of the bare ``hmac.digest``
measured beside it (one HMAC a token, so the floor bounds us; a target in tokens per second
would measure the machine). The budget the tokens serve is SendGrid's: payloads for a
million recipients, tokens included, in under 10 s (``python -m bench sendgrid``).
"""

from __future__ import annotations

import hmac
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from itsdangerous import TimestampSigner

from pipeline.tokens import Keys, make_token, read_token

N = 200_000
REPEATS = 3
KEY = "bench-key-" + "x" * 40
PID = "0123456789abcdef0123456789abcdef"


def _ours(n: int) -> None:
    keys = Keys(KEY)
    for i in range(n):
        make_token(keys, "unsubscribe", PID, i)


def _itsdangerous(n: int) -> None:
    for i in range(n):  # as the old tokens module did per call (signer cached per purpose)
        TimestampSigner(KEY, salt="newsletter.unsubscribe").sign(f"{i}-1")


def _bare_hmac(n: int) -> None:
    key = hmac.digest(KEY.encode(), b"newsletter.token.unsubscribe", "sha256")
    for i in range(n):
        hmac.digest(key, f"{PID}.{i}.19ac1e2f000".encode(), "sha256")


def _rate(fn: Callable[[int], None]) -> float:
    started = time.perf_counter()
    fn(N)
    return N / (time.perf_counter() - started)


def run() -> list[dict[str, Any]]:
    # sanity: the benchmarked tokens are valid
    assert read_token(KEY, "unsubscribe", make_token(KEY, "unsubscribe", PID, 1)).subject == PID
    cases = {"ours": _ours, "itsdangerous": _itsdangerous, "hmac": _bare_hmac}
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(REPEATS):  # alternated, so load changes hit every case alike
        for name, fn in cases.items():
            rates[name].append(_rate(fn))
    load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())

    def spread(name: str) -> str:
        r = rates[name]
        return f"min {min(r):,.0f} / median {statistics.median(r):,.0f} / max {max(r):,.0f}"

    ours = statistics.median(rates["ours"])
    floor = statistics.median(rates["hmac"])
    million = 2_000_000 / ours
    return [
        {
            "name": "tokens per second (make_token, one core)",
            "value": round(ours),
            "unit": "tokens/s",
            "reference": f"bare hmac.digest {floor:,.0f}/s",
            "ratio": round(ours / floor, 2),
            "target": "ratio >= 0.7",
            "ok": ours / floor >= 0.7,
            "note": f"{spread('ours')}; {load}",
        },
        {
            "name": "tokens per second, itsdangerous TimestampSigner (the old way)",
            "value": round(statistics.median(rates["itsdangerous"])),
            "unit": "tokens/s",
            "target": "",
            "ok": None,
            "note": f"{spread('itsdangerous')}; ours is "
            f"{ours / statistics.median(rates['itsdangerous']):.1f}x",
        },
        {
            "name": "bare hmac.digest per second (the floor)",
            "value": round(statistics.median(rates["hmac"])),
            "unit": "digests/s",
            "target": "",
            "ok": None,
            "note": f"{spread('hmac')}; ours is {ours / statistics.median(rates['hmac']):.2f}x",
        },
        {
            "name": "tokens for 1,000,000 recipients (2 each)",
            "value": round(million, 2),
            "unit": "s",
            "target": "",
            "ok": None,
            "note": f"one core; at the floor it would be {2_000_000 / floor:.2f} s; {load}",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['value']:,} {row['unit']}  {row.get('note', '')}")
