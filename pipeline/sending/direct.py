"""One message through the configured transport, without the ledger: test copies
(``issue send --test-to``) and transactional emails (confirmation, welcome)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.config import Settings
from pipeline.errors import PersonalisationError, SendError
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


def send_test_copies(settings: Settings, slug: str, addresses: Sequence[str]) -> list[str]:
    """Build ``slug`` and send one test copy to each address (the ledger is untouched; the
    copy's links name no subscriber: they open a page and change nothing). Returns a line
    per copy sent; raises SendError naming the copies that were not sent."""
    from pipeline.render.build import build_issue
    from pipeline.sending.recipient_values import TEST_COPY, recipient_values, web_url

    build = build_issue(settings, slug)
    web = web_url(settings, slug)
    transport = get_transport(settings)
    done: list[str] = []
    failed: list[str] = []
    try:
        for address in addresses:
            result = send_single(
                settings,
                build.compiled,
                to_email=address,
                values=recipient_values(settings, TEST_COPY, address, "", web=web),
                slug=slug,
                transport=transport,
            )
            if not result.ok:
                failed.append(f"{address}: {result.error or result.outcome}")
                continue
            done.append(
                f"Sent a test copy of {slug} to {address} via {transport.describe()}"
                " (the delivery ledger is untouched)."
            )
    finally:
        transport.close()
    if failed:
        raise SendError(
            f"{len(failed)} test cop{'y was' if len(failed) == 1 else 'ies were'} not sent: "
            + "; ".join(failed),
            fix="check the transport settings in newsletter.toml",
        )
    return done
