"""The web signup and its confirmation, as the web face calls them (no HTTP here).

:func:`sign_up` decides what a public signup does, in ONE transaction: the subscriptions
(confirmed for single opt-in lists, unconfirmed for double opt-in ones) and the emails
that follow, queued in ``mail_queue`` (a confirmation for the lists still to confirm, a
welcome for lists newly confirmed). Nothing is sent here: the queue is worked off the
request path (``pipeline.sending.mail_queue``), so the visitor's answer is the same, and
takes the same path, whether the address is new, known or suppressed. A suppressed address
(unsubscribed, bounced, complained, erased) gets no subscription and nothing queued; the
per-address cooldown and the hourly cap are applied when the queue is worked.

:func:`confirm_signup` confirms the lists inside a confirmation token, once, and queues the
welcome. A link older than the person's last unsubscribe never subscribes them again.

The public form never changes a known subscriber's details (name, fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.config import Settings
from pipeline.errors import WebError
from pipeline.store.tables import mail_queue, subscribers
from pipeline.subscribers.links import last_opt_out, spend_token, subscriber_for_token
from pipeline.subscribers.normalise import normalise_email
from pipeline.subscribers.service import add_in, confirm_subscription, subscriptions_in
from pipeline.subscribers.suppression import suppression_salt
from pipeline.tokens import MAX_AGE, Token

#: What the queue sends: the double opt-in link, and the welcome once lists are confirmed.
KINDS = ("confirm", "welcome")


@dataclass(frozen=True)
class Signup:
    """What a visitor asked for (already validated by the form)."""

    email: str
    lists: Sequence[str]
    name: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    consent_text: str = ""
    ip: str = ""


@dataclass(frozen=True)
class SignupOutcome:
    """What was decided (for logs and tests; the visitor is told none of it)."""

    subscriber_id: int | None
    queued: tuple[str, ...]  # kinds of email queued


def consent_text(settings: Settings) -> str:
    """The exact consent sentence the form shows (and the database records)."""
    return settings.web.consent_text.replace("{name}", settings.newsletter.name)


def sign_up(settings: Settings, engine: Engine, signup: Signup, *, now: datetime) -> SignupOutcome:
    """Subscribe as the form asked and queue the emails, in one transaction (see the module)."""
    normalised = normalise_email(signup.email)
    salt = suppression_salt(engine)
    double = [s for s in signup.lists if (found := settings.list_named(s)) and found.double_opt_in]
    single = [s for s in signup.lists if s not in double]

    def run() -> SignupOutcome:
        with engine.begin() as conn:
            known = conn.execute(
                select(subscribers.c.id).where(subscribers.c.email == normalised)
            ).scalar_one_or_none()
            was = subscriptions_in(conn, known) if known is not None else {}
            subscriber_id = known
            for chosen, confirmed in ((single, True), (double, False)):
                if not chosen:
                    continue
                result = add_in(
                    conn,
                    salt,
                    normalised,
                    name=signup.name if known is None else "",  # never renames anyone
                    attributes=dict(signup.fields) if known is None else {},
                    lists=chosen,
                    method="web",
                    consent_text=signup.consent_text,
                    ip=signup.ip,
                    confirmed=confirmed,
                    consent_at=now,
                    now=now,
                )
                if result.suppressed:
                    return SignupOutcome(result.subscriber_id, ())
                subscriber_id = result.subscriber_id or subscriber_id
            if subscriber_id is None:
                return SignupOutcome(None, ())
            after = subscriptions_in(conn, subscriber_id)
            pending = [s for s in double if after.get(s) != "confirmed"]
            welcomed = [
                s for s in single if after.get(s) == "confirmed" and was.get(s) != "confirmed"
            ]
            queued = []
            if pending:
                queue_mail(conn, "confirm", subscriber_id, pending, now=now)
                queued.append("confirm")
            if welcomed:
                queue_mail(conn, "welcome", subscriber_id, welcomed, now=now)
                queued.append("welcome")
            return SignupOutcome(subscriber_id, tuple(queued))

    try:
        return run()
    except IntegrityError:  # a concurrent signup of the same address made the row first
        return run()


def queue_mail(
    conn: Connection, kind: str, subscriber_id: int, lists: Sequence[str], *, now: datetime
) -> None:
    """Queue a ``kind`` email for a subscriber, in the caller's transaction. A confirmation
    still waiting in the queue for the same person takes the new lists instead of a second
    row, so a flood of signups for one address leaves one row."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    if kind == "confirm":
        waiting = conn.execute(
            select(mail_queue.c.id, mail_queue.c.lists).where(
                mail_queue.c.subscriber_id == subscriber_id,
                mail_queue.c.kind == "confirm",
                mail_queue.c.status == "queued",
            )
        ).first()
        if waiting is not None:
            merged = list(dict.fromkeys([*waiting.lists.split(","), *lists]))
            conn.execute(
                update(mail_queue)
                .where(mail_queue.c.id == waiting.id)
                .values(lists=",".join(s for s in merged if s))
            )
            return
    conn.execute(
        mail_queue.insert().values(
            kind=kind,
            subscriber_id=subscriber_id,
            lists=",".join(lists),
            status="queued",
            attempts=0,
            due_at=now,
            created_at=now,
            claim_id=None,
        )
    )


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation did: the lists now confirmed, and whether a welcome was queued."""

    public_id: str
    confirmed: list[str]
    welcomed: bool


def confirm_signup(
    settings: Settings, engine: Engine, token: str, data: Token, *, ip: str, now: datetime
) -> Confirmed:
    """Confirm the lists inside a confirmation token (once) and queue the welcome for the
    lists it newly confirmed. WebError when the link may not act (see the module)."""
    info = subscriber_for_token(engine, data)
    if info is None:
        raise WebError("this link is not valid any more", fix="sign up again")
    lists = [s for s in data.data.split(",") if s in settings.list_slugs]
    left = last_opt_out(engine, info)
    if left is not None and left >= data.issued_at:
        raise WebError(
            "this link was sent before you unsubscribed, so it cannot subscribe you again",
            fix="sign up again on our website",
        )
    salt = suppression_salt(engine)
    first_use = spend_token(engine, token, data, data.issued_at + MAX_AGE["confirm"])
    with engine.connect() as conn:
        before = subscriptions_in(conn, info.id)
    if first_use and not lists:  # a link without lists: whatever waits for confirmation
        confirm_subscription(engine, info.id, None, ip=ip)
    with engine.begin() as conn:
        if first_use and lists:
            result = add_in(
                conn,
                salt,
                info.email,
                lists=lists,
                method="web",
                consent_text=consent_text(settings),
                ip=ip,
                confirmed=True,
                allow_resubscribe=True,
                now=now,
            )
            if result.suppressed:
                raise WebError(
                    "this address cannot be subscribed again here",
                    fix=f"write to {settings.sender.email}",
                )
        after = subscriptions_in(conn, info.id)
        new = [s for s, st in after.items() if st == "confirmed" and before.get(s) != st]
        if new:
            queue_mail(conn, "welcome", info.id, sorted(new), now=now)
    return Confirmed(
        public_id=info.public_id,
        confirmed=sorted(s for s, st in after.items() if st == "confirmed"),
        welcomed=bool(new),
    )
