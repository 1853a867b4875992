"""Optional DKIM signing (dkimpy). The signature covers both List-Unsubscribe headers, as
RFC 8058 asks, so a receiver can trust the one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.config import Settings
from pipeline.errors import ConfigError

SIGNED_HEADERS: list[bytes] = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
]


def make_signer(settings: Settings) -> Callable[[bytes], bytes] | None:
    """A function that returns the DKIM-Signature header for a message, or None when DKIM
    is off. The key comes from NEWSLETTER_DKIM_PRIVATE_KEY, else [dkim] private_key_path."""
    cfg = settings.dkim
    if not cfg.enabled:
        return None
    key = settings.secrets.dkim_private_key.encode()
    if not key and cfg.private_key_path:
        try:
            key = settings.path(cfg.private_key_path).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the DKIM key: {exc.strerror}",
                path=cfg.private_key_path,
                fix="check [dkim] private_key_path",
            ) from None
    if not key:
        raise ConfigError(
            "DKIM is enabled but there is no private key",
            fix="set NEWSLETTER_DKIM_PRIVATE_KEY (PEM) or [dkim] private_key_path",
        )
    if not cfg.selector:
        raise ConfigError("DKIM is enabled but [dkim] selector is empty", fix="set it")
    import dkim  # dkimpy and its dependencies: 40 ms of start-up, for senders who sign

    domain = (cfg.domain or settings.sender.email.rpartition("@")[2]).encode()
    selector = cfg.selector.encode()

    def sign(message: bytes) -> bytes:
        return bytes(
            dkim.sign(
                message,
                selector,
                domain,
                key,
                include_headers=SIGNED_HEADERS,
                linesep=b"\r\n",
            )
        )

    return sign
