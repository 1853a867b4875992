from __future__ import annotations

import base64
from collections.abc import Callable

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.sending.dkim import make_signer
from pipeline.sending.mime import MessageSkeleton
from pipeline.sending.recipient_values import recipient_values
from tests.sending.conftest import sample_compiled


@pytest.fixture(scope="module")
def keypair() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_signed_messages_verify_and_cover_list_unsubscribe(
    make_settings: Callable[..., Settings], keypair: tuple[str, bytes]
) -> None:
    pem, record = keypair
    settings = make_settings(
        env={"NEWSLETTER_DKIM_PRIVATE_KEY": pem},
        **{"dkim.enabled": True, "dkim.selector": "nl2026"},
    )
    skeleton = MessageSkeleton(settings, sample_compiled(), signer=make_signer(settings))
    values = recipient_values(settings, "p5", "zoe@example.org", "Zoë", 1)
    message = skeleton.build("zoe@example.org", "Zoë", values)
    assert message.startswith(b"DKIM-Signature:")
    asked: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record

    assert dkim.verify(message, dnsfunc=dnsfunc)
    assert asked == [b"nl2026._domainkey.glownotes.example.com."]
    signature = message.split(b"\r\n\r\n", 1)[0].split(b"DKIM-Signature:", 1)[1]
    signed = signature.split(b"h=", 1)[1].split(b";", 1)[0].replace(b"\r\n", b"").replace(b" ", b"")
    assert b"list-unsubscribe" in signed.split(b":")
    assert b"list-unsubscribe-post" in signed.split(b":")
    # A changed List-Unsubscribe header breaks the signature.
    tampered = message.replace(b"List-Unsubscribe: <http", b"List-Unsubscribe: <https", 1)
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_dkim_without_a_key_is_a_config_error(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**{"dkim.enabled": True, "dkim.selector": "s"})
    with pytest.raises(ConfigError) as err:
        make_signer(settings)
    assert str(err.value) == (
        "DKIM is enabled but there is no private key "
        "(set NEWSLETTER_DKIM_PRIVATE_KEY (PEM) or [dkim] private_key_path)"
    )
