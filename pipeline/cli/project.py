"""`newsletter init DIR`: start a new newsletter in an empty folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from pipeline.cli.app import app, console
from pipeline.errors import ConfigError

SCAFFOLD = Path(__file__).resolve().parent.parent / "scaffold"
EXAMPLE_ISSUE = "2026-12-01-microneedling"
GITIGNORE = "# Runtime state: the database, builds, the outbox and the signing key.\nvar/\n"


def init_project(target: Path) -> list[Path]:
    """Copy the scaffold (newsletter.toml, templates, an example issue, the brand kit's
    images) into ``target``,
    which must be missing or empty. Returns the top-level paths written."""
    if target.exists() and not target.is_dir():
        raise ConfigError("not a folder", path=target, fix="choose a new or empty folder")
    if target.is_dir() and any(target.iterdir()):
        raise ConfigError(
            "the folder is not empty",
            path=target,
            fix="choose a new or empty folder; init never overwrites files",
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the folder: {exc.strerror}",
            path=target,
            fix="choose a folder you can write to",
        ) from None
    written: list[Path] = []
    shutil.copyfile(SCAFFOLD / "newsletter.toml", target / "newsletter.toml")
    written.append(target / "newsletter.toml")
    for name in ("templates", "issues", "brand"):
        shutil.copytree(
            SCAFFOLD / name,
            target / name,
            symlinks=False,
            ignore=shutil.ignore_patterns("__pycache__", ".*"),
        )
        written.append(target / name)
    (target / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    written.append(target / ".gitignore")
    return written


@app.command("init", short_help="Start a newsletter: settings, templates, an example issue.")
def init(
    directory: Path = typer.Argument(..., help="A new or empty folder for your newsletter."),
) -> None:
    """Start a newsletter: a commented newsletter.toml, the templates and an example issue."""
    for path in init_project(directory):
        console.print(f"  wrote {path}{'/' if path.is_dir() else ''}", markup=False, soft_wrap=True)
    console.print("\nNext:", markup=False)
    console.print(f"  cd {directory}", markup=False, soft_wrap=True)
    console.print("  edit newsletter.toml (name, sender, postal address, lists)", markup=False)
    console.print(f"  newsletter issue build {EXAMPLE_ISSUE}", markup=False)


@app.command("secret", short_help="Print a new random key for NEWSLETTER_SECRET_KEY.")
def secret() -> None:
    """Print a new random signing key for NEWSLETTER_SECRET_KEY (48 random bytes)."""
    from pipeline.tokens import new_secret_key

    console.print(new_secret_key(), markup=False)
