"""Settings: defaults, the file, the environment, and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_settings, secret_key_warning
from pipeline.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsletter.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(None, {"NEWSLETTER_SECRET_KEY": "k" * 40}, root=tmp_path)
    assert s.sending.transport == "maildir"
    assert s.database_url == f"sqlite:///{tmp_path}/var/newsletter.db"
    assert s.secrets.secret_key == "k" * 40


def test_environment_overrides_file_and_secrets_come_only_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///x.db"\n')
    env = {
        "NEWSLETTER_DATABASE_URL": "postgresql://u@h/db",
        "SENDGRID_API_KEY": "SG.abc",
        "NEWSLETTER_SECRET_KEY": "s" * 40,
    }
    s = load_settings(path, env)
    assert s.database_url == "postgresql://u@h/db"
    assert s.secrets.sendgrid_api_key == "SG.abc"


def test_secret_key_falls_back_to_a_private_file(tmp_path: Path) -> None:
    first = load_settings(None, {}, root=tmp_path).secrets.secret_key
    second = load_settings(None, {}, root=tmp_path).secrets.secret_key
    assert first == second and len(first) > 40
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o077 == 0


def test_a_public_newsletter_signing_with_the_key_file_is_warned(tmp_path: Path) -> None:
    """An https newsletter without NEWSLETTER_SECRET_KEY signs with var/secret.key: serve
    and send-due say that every machine must share the key; set in the environment, or a
    newsletter on a local address, there is nothing to say."""
    public = {"newsletter.base_url": "https://news.example.com"}
    from_file = load_settings(None, {}, root=tmp_path, overrides=public)
    warning = secret_key_warning(from_file, {})
    assert warning is not None and "var/secret.key" in warning
    assert "NEWSLETTER_SECRET_KEY" in warning
    env = {"NEWSLETTER_SECRET_KEY": "k" * 40}
    from_env = load_settings(None, env, root=tmp_path, overrides=public)
    assert secret_key_warning(from_env, env) is None
    local = load_settings(None, {}, root=tmp_path)
    assert local.newsletter.base_url.startswith("http://")
    assert secret_key_warning(local, {}) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[sender]\nemail = "not-an-address"\n',
            "newsletter.toml: sender.email: 'not-an-address' is not an email address like "
            "news@example.com (see 'Configuration reference' in README.md)",
        ),
        (
            '[sender]\nemial = "a@b.c"\n',
            "newsletter.toml: sender.emial: unknown setting (did you mean 'email'?)",
        ),
        (
            '[sending]\ntransport = "pigeon"\n',
            "newsletter.toml: sending.transport: Input should be 'maildir', 'smtp' or "
            "'sendgrid' (see 'Configuration reference' in README.md)",
        ),
        (
            "[[lists]]\nname = 'No slug'\n",
            "newsletter.toml: lists[0].slug: missing (add it to newsletter.toml)",
        ),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), {"NEWSLETTER_SECRET_KEY": "k" * 40})
    assert str(err.value) == message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[newsletter]\nname = "x"\nbroken = \n')
    with pytest.raises(ConfigError) as err:
        load_settings(path, {"NEWSLETTER_SECRET_KEY": "k" * 40})
    assert str(err.value).startswith(f"{path}:3: invalid TOML")


def test_cli_prints_one_error_line_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, '[sender]\nemail = "nope"\n')
    result = CliRunner().invoke(app, ["--config", str(path), "db", "upgrade"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("Error: newsletter.toml: sender.email:")
