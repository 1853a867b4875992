"""One message through the configured transport, without the ledger: test copies
(``issue send --test-to``) and transactional emails (confirmation, welcome)."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.config import Settings
from pipeline.errors import PersonalisationError
from pipeline.render.personalise import CompiledEdition
from pipeline.sending.addresses import wire_address
from pipeline.sending.dkim import make_signer
from pipeline.sending.mime import MessageSkeleton
from pipeline.sending.transports import get_transport
from pipeline.sending.transports.base import Outgoing, Result, Transport


def send_single(
    settings: Settings,
    compiled: CompiledEdition,
    *,
    to_email: str,
    to_name: str = "",
    values: Mapping[str, str],
    slug: str = "",
    transport: Transport | None = None,
) -> Result:
    """Send one message; the result says sent, transient or failed (and why)."""
    try:
        address = wire_address(to_email)
    except PersonalisationError as exc:
        return Result("failed", error=str(exc))
    skeleton = MessageSkeleton(settings, compiled, slug=slug, signer=make_signer(settings))
    chosen = transport or get_transport(settings)
    message = Outgoing(skeleton, address, to_name, dict(values), skeleton.new_message_id())
    try:
        return chosen.send_batch([message])[0]
    finally:
        if transport is None:
            chosen.close()
