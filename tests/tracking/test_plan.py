"""tracking_values: the edition's signer and URL prefixes are made once; the token is the
documented one (purpose ``track``, the public id and the edition), so tracked links sent
before keep working."""

from __future__ import annotations

import hashlib
import hmac

from pipeline.config import Settings
from pipeline.tokens import read_token
from pipeline.tracking.plan import tracking_values

PID = "0123456789abcdef0123456789abcdef"


def test_tracking_values_are_one_documented_token(file_settings: Settings) -> None:
    values = tracking_values(file_settings, PID, 12)
    base = file_settings.newsletter.base_url
    token = values["click_base"].removeprefix(f"{base}/l/")
    assert values["open_url"] == f"{base}/o/{token}.gif"
    payload, signature = token.rsplit(".", 1)
    assert payload.split(".")[:2] == [PID, "12"]
    secret = file_settings.secrets.secret_key.encode()
    key = hmac.digest(secret, b"newsletter.token.track", "sha256")
    assert signature == hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]
    read = read_token(file_settings.keys, "track", token)
    assert (read.subject, read.edition_id) == (PID, 12)
    other = tracking_values(file_settings, PID, 13)["click_base"].rsplit("/", 1)[1]
    assert read_token(file_settings.keys, "track", other).edition_id == 13
