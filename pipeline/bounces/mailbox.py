"""``newsletter bounces fetch``: read the bounce mailbox and act on each message once.

The mailbox is an IMAP folder (imap-tools) or a local Maildir. A message is one of:

- a *bounce*: a delivery status notification (RFC 3464) or one of the common
  non-standard formats, parsed by flufl.bounce. It names its delivery through the VERP
  address it was sent back to (``bounces+b<id>-<mac>@``), or failing that through the
  failed address flufl.bounce finds in it; permanent failures are hard bounces, temporary
  ones soft (``pipeline.bounces.decision.apply_bounce`` decides suppression);
- an *unsubscribe request* sent to a List-Unsubscribe mailto address
  (``bounces+u<id>-<mac>@``): that person is unsubscribed from every list, whatever the
  body says, and the unsubscribe is recorded against the delivery like a one-click one;
- anything else: left as it was found, counted as not understood.

Each message we acted on is then flagged (IMAP ``\\Seen`` + ``$NewsletterDone``, Maildir
flag ``S``) or moved to ``bounces.imap_done_folder``, and its Message-ID is kept as the
event's dedupe key, so a message is never processed twice even if the flag is lost. One
bad message never stops the rest.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from pathlib import Path

from sqlalchemy import Engine, insert, select

from pipeline.bounces.decision import Bounce, apply_bounce
from pipeline.bounces.verp import VerpToken, read_verp
from pipeline.config import Settings
from pipeline.errors import ConfigError, NewsletterError
from pipeline.store.tables import deliveries, delivery_events, subscribers

log = logging.getLogger("pipeline.bounces")

DONE_FLAG = "$NewsletterDone"
#: Headers that may carry the address a message was delivered to (the VERP address).
ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass
class FetchReport:
    messages: int = 0
    hard: int = 0
    soft: int = 0
    unsubscribed: int = 0
    suppressed: int = 0
    duplicates: int = 0
    not_understood: int = 0
    problems: list[str] = field(default_factory=list)


# ---- reading one message -------------------------------------------------------------------
def _token(msg: Message, secret: str) -> VerpToken | None:
    for header in ADDRESS_HEADERS:
        for value in msg.get_all(header, []) or []:
            found = read_verp(str(value), secret)
            if found is not None:
                return found
    return None


def _failures(msg: Message) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses, lower-case, as flufl.bounce finds them."""
    from flufl.bounce import all_failures

    temporary, permanent = all_failures(msg)

    def text(items: object) -> set[str]:
        out = set()
        for item in items:  # type: ignore[attr-defined]
            value = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
            out.add(value.strip().strip("<>").lower())
        return out

    return text(temporary), text(permanent)


def _event_id(msg: Message, raw: bytes) -> str:
    message_id = str(msg.get("Message-ID", "")).strip()
    basis = message_id.encode() if message_id else raw
    return "mail:" + hashlib.sha256(basis).hexdigest()[:40]


def _delivery(engine: Engine, delivery_id: int) -> tuple[int, int | None, int | None, str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                deliveries.c.id,
                deliveries.c.edition_id,
                deliveries.c.subscriber_id,
                deliveries.c.email,
            ).where(deliveries.c.id == delivery_id)
        ).first()
    return (row.id, row.edition_id, row.subscriber_id, row.email) if row is not None else None


def _latest_delivery(engine: Engine, address: str) -> tuple[int | None, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(deliveries.c.id, deliveries.c.edition_id)
            .where(deliveries.c.email == address)
            .order_by(deliveries.c.id.desc())
            .limit(1)
        ).first()
    return (row.id, row.edition_id) if row is not None else (None, None)


def process_message(
    settings: Settings, engine: Engine, raw: bytes, now: datetime, report: FetchReport
) -> bool:
    """Act on one message; True when it was understood (and may be flagged as done)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    secret = settings.secrets.secret_key
    token = _token(msg, secret)
    event_id = _event_id(msg, raw)
    if token is not None and token.kind == "u":
        return _unsubscribe(engine, token, event_id, now, report)
    temporary, permanent = _failures(msg)
    targets: list[tuple[str, str, int | None, int | None]] = []  # address, kind, delivery, ed
    if token is not None:
        found = _delivery(engine, token.delivery_id)
        if found is not None:
            _, edition_id, _, address = found
            if permanent:
                kind = "hard"
            elif temporary or _looks_like_bounce(msg):
                kind = "soft"  # a delay warning, or a report flufl.bounce could not read
            else:
                return False
            targets.append((address, kind, token.delivery_id, edition_id))
    else:
        for address in sorted(permanent):
            delivery_id, edition_id = _latest_delivery(engine, address)
            targets.append((address, "hard", delivery_id, edition_id))
        for address in sorted(temporary - permanent):
            delivery_id, edition_id = _latest_delivery(engine, address)
            targets.append((address, "soft", delivery_id, edition_id))
    if not targets:
        return False
    for index, (address, kind, delivery_id, edition_id) in enumerate(targets):
        verdict = apply_bounce(
            engine,
            settings.bounces,
            Bounce(
                email=address,
                kind=kind,  # type: ignore[arg-type]
                source="mailbox",
                occurred_at=now,
                delivery_id=delivery_id,
                edition_id=edition_id,
                reason=_status(msg),
                event_id=event_id if index == 0 else f"{event_id}:{index}",
            ),
        )
        if verdict == "already":
            report.duplicates += 1
            continue
        report.hard += kind == "hard"
        report.soft += kind == "soft"
        report.suppressed += verdict == "suppressed"
    return True


def _looks_like_bounce(msg: Message) -> bool:
    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type") or "")
    return ctype == "multipart/report" and report_type.lower() == "delivery-status"


def _status(msg: Message) -> str:
    """The first Status and Diagnostic-Code of a DSN, for the record."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        found = []
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks:
            if not isinstance(block, Message):
                continue
            for key in ("Status", "Diagnostic-Code"):
                if block.get(key):
                    found.append(f"{key}: {' '.join(str(block[key]).split())}")
        if found:
            return "; ".join(found)[:500]
    return str(msg.get("Subject", ""))[:200]


def _unsubscribe(
    engine: Engine, token: VerpToken, event_id: str, now: datetime, report: FetchReport
) -> bool:
    from pipeline.subscribers import service

    found = _delivery(engine, token.delivery_id)
    if found is None:
        return False
    delivery_id, edition_id, subscriber_id, _ = found
    with engine.connect() as conn:
        seen = conn.execute(
            select(delivery_events.c.id).where(delivery_events.c.provider_event_id == event_id)
        ).first()
        status = None
        if subscriber_id is not None:
            status = conn.execute(
                select(subscribers.c.status).where(subscribers.c.id == subscriber_id)
            ).scalar_one_or_none()
    if seen is not None:
        report.duplicates += 1
        return True
    if subscriber_id is not None and status is not None:
        service.unsubscribe(engine, subscriber_id, None, method="mail")
    with engine.begin() as conn:
        conn.execute(
            insert(delivery_events).values(
                provider_event_id=event_id,
                delivery_id=delivery_id,
                edition_id=edition_id,
                event="unsubscribe",
                detail={"source": "mail"},
                occurred_at=now,
                received_at=now,
            )
        )
    report.unsubscribed += 1
    return True


# ---- the mailboxes -------------------------------------------------------------------------
def _maildir_messages(path: Path) -> Iterator[tuple[str, bytes, mailbox.Maildir]]:
    if not (path / "cur").is_dir() and not (path / "new").is_dir():
        raise ConfigError(
            f"{path} is not a Maildir folder (no cur/ or new/ inside)",
            fix="point `bounces.maildir_path` at the Maildir that receives the bounces",
        )
    box = mailbox.Maildir(str(path), factory=None, create=False)
    for key in list(box.keys()):
        msg = box.get_message(key)
        if "S" in msg.get_flags() or "T" in msg.get_flags():
            continue
        yield key, bytes(msg.as_bytes()), box


def fetch_bounces(settings: Settings, engine: Engine, *, now: datetime) -> FetchReport:
    """Read every new message of the bounce mailbox, act on it, mark it done."""
    cfg = settings.bounces
    report = FetchReport()
    if cfg.mailbox == "maildir":
        for key, raw, box in _maildir_messages(settings.path(cfg.maildir_path)):
            report.messages += 1
            if _safely(settings, engine, raw, now, report, key):
                msg = box.get_message(key)
                msg.add_flag("S")
                box[key] = msg  # moves it to cur/ with the flag
        return report
    if cfg.mailbox == "imap":
        return _fetch_imap(settings, engine, now, report)
    raise ConfigError(
        "no bounce mailbox is configured",
        fix='set `bounces.mailbox` to "imap" or "maildir" in newsletter.toml',
    )


def _safely(
    settings: Settings, engine: Engine, raw: bytes, now: datetime, report: FetchReport, key: str
) -> bool:
    try:
        understood = process_message(settings, engine, raw, now, report)
    except NewsletterError as exc:
        report.problems.append(f"message {key}: {exc}")
        return False
    if not understood:
        report.not_understood += 1
    return understood


def _fetch_imap(
    settings: Settings, engine: Engine, now: datetime, report: FetchReport
) -> FetchReport:
    import ssl

    from imap_tools import AND, MailBox, MailBoxStartTls, MailBoxUnencrypted
    from imap_tools.errors import MailboxLoginError

    cfg = settings.bounces
    if not cfg.imap_username or not settings.secrets.imap_password:
        raise ConfigError(
            "the IMAP bounce mailbox needs a user name and a password",
            fix="set `bounces.imap_username` and NEWSLETTER_IMAP_PASSWORD",
        )
    kinds = {"ssl": MailBox, "starttls": MailBoxStartTls, "none": MailBoxUnencrypted}
    kwargs: dict[str, object] = {"timeout": cfg.timeout}
    if cfg.imap_security != "none":
        kwargs["ssl_context"] = ssl.create_default_context()
    try:
        box = kinds[cfg.imap_security](cfg.imap_host, cfg.imap_port, **kwargs)
        box.login(cfg.imap_username, settings.secrets.imap_password, initial_folder=cfg.imap_folder)
    except MailboxLoginError:
        raise ConfigError(
            f"the IMAP server refused the login for {cfg.imap_username!r}",
            fix="check `bounces.imap_username` and NEWSLETTER_IMAP_PASSWORD",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the IMAP server {cfg.imap_host}:{cfg.imap_port}: {exc}",
            fix="check `bounces.imap_host`, `bounces.imap_port` and `bounces.imap_security`",
        ) from None
    with box:
        done: list[str] = []
        for msg in box.fetch(AND(seen=False), mark_seen=False, bulk=50):
            report.messages += 1
            if msg.uid and _safely(settings, engine, msg.obj.as_bytes(), now, report, msg.uid):
                done.append(msg.uid)
        if done:
            if cfg.imap_done_folder:
                box.move(done, cfg.imap_done_folder)
            else:
                box.flag(done, ["\\Seen", DONE_FLAG], True)
    return report
