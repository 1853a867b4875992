"""SMTP over TLS against a real aiosmtpd server on loopback: STARTTLS and implicit TLS
(port 465 style), each with AUTH, and a certificate the client must verify.

The server's certificate is made here for 127.0.0.1 and trusted through SSL_CERT_FILE, the
same way an operator trusts a private relay's CA (see README, "SMTP")."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pipeline.config import Settings
from pipeline.errors import TransportError
from pipeline.sending.direct import send_single
from pipeline.sending.recipient_values import recipient_values
from tests.sending.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    _start_smtp,
    sample_compiled,
)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _tls_server(certificate: tuple[Path, Path], kind: str) -> tuple[Any, SmtpServer]:
    """``starttls``: a plain port that requires STARTTLS before AUTH and MAIL;
    ``ssl``: a port that speaks TLS from the first byte. AUTH is required on both."""
    context = _server_context(certificate)
    tls: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True}
        if kind == "starttls"
        else {"ssl_context": context, "auth_require_tls": False}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _start_smtp(authenticator=_authenticator, auth_required=True, **tls)


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    controller, server = _tls_server(certificate, "starttls")
    yield server
    controller.stop()


@pytest.fixture
def ssl_server(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    controller, server = _tls_server(certificate, "ssl")
    yield server
    controller.stop()


def _send(settings: Settings, to: str) -> bool:
    values = recipient_values(settings, "p1", to, "Zoë", None)
    return send_single(settings, sample_compiled(), to_email=to, to_name="Zoë", values=values).ok


def _settings(make: Callable[..., Settings], server: SmtpServer, security: str) -> Settings:
    return make(
        env={"NEWSLETTER_SMTP_PASSWORD": SMTP_PASSWORD},
        **{
            "sending.transport": "smtp",
            "smtp.host": server.host,
            "smtp.port": server.port,
            "smtp.security": security,
            "smtp.username": SMTP_USER,
        },
    )


@pytest.mark.parametrize("kind", ["starttls", "ssl"])
def test_tls_with_auth_delivers_when_the_certificate_is_trusted(
    kind: str,
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server: SmtpServer = request.getfixturevalue(f"{kind}_server")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    assert _send(_settings(make_settings, server, kind), "tls@example.org")
    assert [r for r, _ in server.handler.accepted] == ["tls@example.org"]


def test_an_untrusted_certificate_is_never_used(
    make_settings: Callable[..., Settings],
    ssl_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "no-cas.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    settings = _settings(make_settings, ssl_server, "ssl")
    with pytest.raises(TransportError) as err:
        _send(settings, "tls@example.org")
    assert str(err.value) == (
        f"the SMTP server 127.0.0.1:{ssl_server.port} presented a certificate that cannot be "
        "trusted: self-signed certificate (make [smtp] host the name in the server's "
        "certificate, or trust a private CA by setting SSL_CERT_FILE to its PEM file)"
    )
    assert ssl_server.handler.accepted == []


def test_plain_text_is_refused_where_the_server_requires_starttls(
    make_settings: Callable[..., Settings], starttls_server: SmtpServer
) -> None:
    settings = _settings(make_settings, starttls_server, "none")
    with pytest.raises(TransportError) as err:
        _send(settings, "plain@example.org")
    assert str(err.value) == (
        f"the SMTP server 127.0.0.1:{starttls_server.port} offers no AUTH method we support "
        '(none) (use security = "starttls" (servers often offer AUTH only after it), or leave '
        "[smtp] username empty)"
    )
    assert starttls_server.handler.accepted == []
