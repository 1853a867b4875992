"""The two transactional emails of the web app, through the same render and send path as
issues: ``render_email`` (templates/email + templates/text) and ``send_single``.

- confirm: the double opt-in link (``/confirm/<token>``, valid 7 days; the lists asked
  for are inside the token's signature)
- welcome: sent once a subscription is confirmed, linking the latest issue in the archive
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.errors import SendError
from pipeline.render.archive import issue_url, latest_issue
from pipeline.render.email import render_email
from pipeline.sending.direct import send_single
from pipeline.sending.recipient_values import recipient_values
from pipeline.tokens import link, make_token

log = logging.getLogger("pipeline.web")


def list_names(settings: Settings, slugs: Sequence[str]) -> list[str]:
    names = []
    for slug in slugs:
        found = settings.list_named(slug)
        names.append(found.name if found else slug)
    return names


def confirm_url(settings: Settings, public_id: str, lists: Sequence[str]) -> str:
    token = make_token(settings.keys, "confirm", public_id, ",".join(lists))
    return link(settings.newsletter.base_url, "confirm", token)


def _send(
    settings: Settings,
    template: str,
    context: dict[str, object],
    *,
    subject: str,
    preheader: str,
    public_id: str,
    email: str,
    name: str,
) -> None:
    # email_kind tells the shared layout that this is not an issue: no "view in browser"
    # line, and a confirmation goes to someone who has not subscribed yet.
    context = {**context, "email_kind": template}
    compiled = render_email(settings, template, context, subject=subject, preheader=preheader)
    values = recipient_values(settings, public_id, email, name)
    result = send_single(settings, compiled, to_email=email, to_name=name, values=values)
    if not result.ok:
        raise SendError(f"the {template} email could not be sent: {result.error or result.outcome}")


def send_confirmation(
    settings: Settings, public_id: str, email: str, name: str, lists: Sequence[str]
) -> None:
    """The double opt-in email for ``lists``."""
    _send(
        settings,
        "confirm",
        {
            "confirm_url": confirm_url(settings, public_id, lists),
            "list_names": list_names(settings, lists),
        },
        subject=f"Please confirm your subscription to {settings.newsletter.name}",
        preheader="One click and you're in. The link works for 7 days.",
        public_id=public_id,
        email=email,
        name=name,
    )


def send_welcome(
    settings: Settings,
    engine: Engine,
    public_id: str,
    email: str,
    name: str,
    lists: Sequence[str],
) -> None:
    """The welcome email, linking the newest sent issue (if any)."""
    latest = latest_issue(engine)
    context: dict[str, object] = {
        "list_names": list_names(settings, lists),
        "latest": (
            {"subject": latest.subject, "url": issue_url(settings.newsletter.base_url, latest.slug)}
            if latest
            else None
        ),
    }
    _send(
        settings,
        "welcome",
        context,
        subject=f"Welcome to {settings.newsletter.name}",
        preheader="You're subscribed. Here is where to start.",
        public_id=public_id,
        email=email,
        name=name,
    )
