"""Transports by name: ``get_transport(settings)`` returns the configured one."""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.sending.transports.base import Outgoing, Result, Transport

__all__ = ["Outgoing", "Result", "Transport", "get_transport"]


def get_transport(settings: Settings, name: str | None = None) -> Transport:
    """The transport named in ``[sending] transport`` (or ``name``), set up from settings."""
    chosen = name or settings.sending.transport
    if chosen == "smtp":
        from pipeline.sending.transports.smtp import SmtpTransport

        return SmtpTransport.from_settings(settings)
    if chosen == "sendgrid":
        from pipeline.sending.transports.sendgrid import SendgridTransport

        return SendgridTransport.from_settings(settings)
    from pipeline.sending.transports.maildir import MaildirTransport

    return MaildirTransport(settings.outbox_dir)
