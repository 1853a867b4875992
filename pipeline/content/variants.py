"""The front matter of an A/B subject test and of local-time sending (issue 18).

    subject_variants:            2 to 4 subjects, each text or {subject, preheader}
      - Your skin in winter
      - subject: Five winter mistakes
        preheader: The third one surprises everyone
    ab_test:                     optional; these are the defaults
      sample: 20%                the share of the audience the test goes to (1% to 90%)
      wait: 4h                   after the sample is sent, how long to count clicks
      winner_by: clicks          clicks | opens (opens are unreliable: privacy proxies)

    send_at_local: 2027-01-10 09:00    each reader's own wall-clock time

An A/B test and local-time sending are refused together: the test needs the sample's
clicks before the rest goes out, and with local time the rest would be held back by the
earliest zones' results while later zones are already due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.content.frontmatter import FrontMatter
from pipeline.errors import ContentError

MIN_VARIANTS, MAX_VARIANTS = 2, 4
WINNER_BY: tuple[str, ...] = ("clicks", "opens")
DEFAULT_SAMPLE = 0.2
DEFAULT_WAIT = timedelta(hours=4)
AB_TEST_KEYS: tuple[str, ...] = ("sample", "wait", "winner_by")
_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})$")


def variant_letter(index: int) -> str:
    """``A`` for variant 0, ``B`` for 1, ..."""
    return "ABCD"[index] if 0 <= index < 4 else str(index + 1)


@dataclass(frozen=True)
class SubjectVariant:
    subject: str
    preheader: str = ""  # empty: the preheader


@dataclass(frozen=True)
class ABTest:
    sample: float = DEFAULT_SAMPLE
    wait: timedelta = DEFAULT_WAIT
    winner_by: str = "clicks"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "wait_seconds": int(self.wait.total_seconds()),
            "winner_by": self.winner_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ABTest:
        return cls(
            float(data["sample"]), timedelta(seconds=int(data["wait_seconds"])), data["winner_by"]
        )


def parse_duration(text: str) -> timedelta | None:
    """``4h``, ``90 min``, ``1 day``, ``2h30m``; None when it is not a duration."""
    value = text.strip().lower()
    pos, seconds = 0, 0.0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if match is None or match.group(2) not in _UNITS:
            return None
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return timedelta(seconds=seconds) if value and seconds > 0 else None


def _error(front: FrontMatter, key: str, label: str, what: str, fix: str) -> ContentError:
    return ContentError(what, path=label, line=front.lines.get(key, 1), fix=fix)


def subject_variants(front: FrontMatter, label: str) -> tuple[SubjectVariant, ...]:
    """The ``subject_variants:`` of an issue (empty when there is none)."""
    raw = front.data.get("subject_variants")
    if raw is None:
        return ()
    fix = (
        "write 2 to 4 items, each a subject or 'subject: ...' with an optional "
        "'preheader: ...', e.g.\nsubject_variants:\n  - Your skin in winter\n"
        "  - subject: Five winter mistakes\n    preheader: The third one surprises everyone"
    )
    if not isinstance(raw, list) or not MIN_VARIANTS <= len(raw) <= MAX_VARIANTS:
        count = f"{len(raw)} item(s)" if isinstance(raw, list) else "not a list"
        raise _error(
            front,
            "subject_variants",
            label,
            f"subject_variants needs 2 to 4 subjects ({count})",
            fix,
        )
    found: list[SubjectVariant] = []
    for i, item in enumerate(raw):
        if isinstance(item, dict):
            unknown = set(item) - {"subject", "preheader"}
            subject, preheader = item.get("subject"), item.get("preheader") or ""
        else:
            unknown, subject, preheader = set(), item, ""
        lines = front.item_lines.get("subject_variants", [])
        line = lines[i] if i < len(lines) else front.lines.get("subject_variants", 1)
        if unknown or not isinstance(subject, str | int | float) or not str(subject).strip():
            what = (
                f"unknown key '{sorted(unknown)[0]}' in subject variant {variant_letter(i)}"
                if unknown
                else f"subject variant {variant_letter(i)} has no subject"
            )
            raise ContentError(what, path=label, line=line, fix=fix)
        text = str(subject).strip()
        if "\n" in text or "\n" in str(preheader):
            raise ContentError(
                f"subject variant {variant_letter(i)} holds a line break",
                path=label,
                line=line,
                fix="write each subject and preheader on one line",
            )
        found.append(SubjectVariant(text, str(preheader).strip()))
    subjects = [v.subject for v in found]
    if len(set(subjects)) != len(subjects):
        raise _error(
            front,
            "subject_variants",
            label,
            "two subject variants are the same",
            "give each variant a different subject (the test compares subjects)",
        )
    return tuple(found)


def _sample(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 100 if value >= 1 else float(value)
    return None


def ab_test(front: FrontMatter, label: str, variants: tuple[SubjectVariant, ...]) -> ABTest | None:
    """The ``ab_test:`` settings (defaults when only ``subject_variants:`` is given)."""
    raw = front.data.get("ab_test")
    if raw is None:
        return ABTest() if variants else None
    if not variants:
        raise _error(
            front,
            "ab_test",
            label,
            "ab_test without subject_variants",
            "add 'subject_variants:' with 2 to 4 subjects, or remove 'ab_test:'",
        )
    if not isinstance(raw, dict):
        raise _error(
            front, "ab_test", label, "'ab_test' must be a set of keys",
            "write e.g.\nab_test:\n  sample: 20%\n  wait: 4h\n  winner_by: clicks",
        )  # fmt: skip
    for key in raw:
        if key not in AB_TEST_KEYS:
            raise _error(
                front, "ab_test", label, f"unknown key '{key}' in ab_test",
                f"known keys: {', '.join(AB_TEST_KEYS)}",
            )  # fmt: skip
    sample = _sample(raw.get("sample", DEFAULT_SAMPLE))
    if sample is None or not 0.01 <= sample <= 0.9:
        raise _error(
            front, "ab_test", label, f"ab_test sample {raw.get('sample')!r} is not 1% to 90%",
            "write the share of the audience the test goes to, e.g. 'sample: 20%'",
        )  # fmt: skip
    wait_raw = raw.get("wait")
    wait = DEFAULT_WAIT if wait_raw is None else parse_duration(str(wait_raw))
    if wait is None:
        raise _error(
            front, "ab_test", label, f"ab_test wait {wait_raw!r} is not a duration",
            "write how long to count clicks after the sample is sent, e.g. 'wait: 4h' or "
            "'wait: 90 min'",
        )  # fmt: skip
    winner_by = str(raw.get("winner_by", "clicks")).strip().lower()
    if winner_by not in WINNER_BY:
        raise _error(
            front, "ab_test", label, f"ab_test winner_by {winner_by!r} is not clicks or opens",
            "write 'winner_by: clicks' (the default) or 'winner_by: opens'",
        )  # fmt: skip
    return ABTest(round(sample, 4), wait, winner_by)


def send_at_local(front: FrontMatter, label: str) -> datetime | None:
    """``send_at_local:`` as a naive wall-clock time (each reader's zone is applied later)."""
    raw = front.data.get("send_at_local")
    if raw is None or raw == "":
        return None
    fix = "write a date and a time without a zone, e.g. 'send_at_local: 2027-01-10 09:00'"
    if isinstance(raw, datetime):
        if raw.tzinfo is not None:
            raise _error(
                front, "send_at_local", label, "send_at_local must not carry a time zone", fix
            )
        return raw.replace(second=0, microsecond=0)
    if isinstance(raw, date):
        raise _error(front, "send_at_local", label, f"send_at_local {raw} has no time of day", fix)
    match = _LOCAL.match(str(raw).strip())
    if match is None:
        raise _error(
            front, "send_at_local", label, f"send_at_local {raw!r} is not a date and time", fix
        )
    try:
        return datetime.fromisoformat(f"{match.group(1)} {match.group(2).zfill(5)}")
    except ValueError:
        raise _error(
            front, "send_at_local", label, f"send_at_local {raw!r} is not a date and time", fix
        ) from None


def check_combination(
    front: FrontMatter, label: str, variants: tuple[SubjectVariant, ...], local: datetime | None
) -> None:
    """Refuse what cannot go together: send_at with send_at_local, A/B with local time."""
    if local is None:
        return
    if front.data.get("send_at") not in (None, ""):
        raise _error(
            front,
            "send_at_local",
            label,
            "send_at and send_at_local are both set",
            "keep one: send_at sends everyone at one instant, send_at_local sends each reader "
            "at that time in their own zone",
        )
    if variants:
        raise _error(
            front,
            "send_at_local",
            label,
            "an A/B subject test cannot be sent at local time",
            "the test needs the sample's clicks before the rest is sent, while with "
            "send_at_local later zones fall due hours after the first; remove "
            "'subject_variants:' or 'send_at_local:'",
        )
