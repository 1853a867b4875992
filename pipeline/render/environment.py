"""The Jinja environments for emails (MJML, autoescaped) and plain text (not escaped).

Both use StrictUndefined, so a misspelt variable is an error that names the template file
and line instead of an empty hole in a sent email. ``recipient(field, default)`` is a
global: in emails it emits a personalisation placeholder; in the web version (``web=True``)
it emits the default, so the archive holds no personal links.

The email and web environments differ only in those globals, which templates look up when
they render: a template compiled by one is the other's too (``SharedCode``), so a build
compiles each email template once, not twice (about a third of the compiling). Compiled
templates are also kept on disk (``cache_dir()``), so a command compiles only what changed
since the last one.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import CodeType, TracebackType
from typing import Any

import jinja2
from markupsafe import Markup

from pipeline.config import Settings
from pipeline.errors import PersonalisationError, RenderError
from pipeline.render.brand import brand_globals
from pipeline.render.personalise import check_field_name, jinja_recipient


def web_recipient(autoescape: bool) -> Callable[..., str]:
    """``recipient()`` for the web version: the default, never a personal value."""

    def recipient(field_name: str, default: str = "") -> str:
        check_field_name(field_name)
        return Markup(html.escape(default, quote=True)) if autoescape else default

    return recipient


class SharedCode(jinja2.BytecodeCache):
    """Compiled templates kept in memory for environments that compile alike (the same
    options and filters; only their globals differ), and on disk (``disk``) for the next
    process: a command compiles a template only when its source changed since any
    command last compiled it (about 70 ms of a cold build). Jinja checks the source's
    checksum, its own version and Python's: an edited template is compiled again."""

    def __init__(self, disk: jinja2.FileSystemBytecodeCache | None = None) -> None:
        self._code: dict[str, tuple[str, CodeType]] = {}
        self.disk = disk

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        found = self._code.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]
        elif self.disk is not None:
            self.disk.load_bytecode(bucket)  # a file of another checksum is ignored

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.code is not None:
            self._code[bucket.key] = (bucket.checksum, bucket.code)
            if self.disk is not None:
                with contextlib.suppress(OSError):  # a full or read-only disk: memory only
                    self.disk.dump_bytecode(bucket)


def cache_dir() -> Path:
    """Where compiled templates are kept: ``$XDG_CACHE_HOME/newsletter/templates``
    (``~/.cache/newsletter/templates`` by default), private to the user."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsletter" / "templates"


def _disk_cache(options: tuple[object, ...]) -> jinja2.FileSystemBytecodeCache | None:
    """The on-disk cache for environments with these compile ``options`` (their own files:
    code compiled with other options is never loaded), or None where there is no
    writable private folder for it (then templates are compiled in each process)."""
    folder = cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o077:  # code is loaded from it
            return None
    except OSError:
        return None
    tag = hashlib.sha256(repr(options).encode()).hexdigest()[:12]
    return jinja2.FileSystemBytecodeCache(str(folder), f"{tag}-%s.cache")


@dataclass(frozen=True)
class Environments:
    email: jinja2.Environment
    text: jinja2.Environment
    web: jinja2.Environment


_OPTIONS: dict[str, Any] = {
    "undefined": jinja2.StrictUndefined,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
    "auto_reload": True,
}


def _make(
    root: Path, *, autoescape: bool, web: bool, shared: SharedCode | None = None
) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        bytecode_cache=shared,
        autoescape=autoescape,
        **_OPTIONS,
    )
    env.globals["recipient"] = web_recipient(autoescape) if web else jinja_recipient(autoescape)
    env.globals["web"] = web
    return env


def _code_cache(autoescape: bool) -> SharedCode:
    options = (autoescape, sorted((k, repr(v)) for k, v in _OPTIONS.items()))
    return SharedCode(_disk_cache(options))


@lru_cache(maxsize=8)
def _environments(root: str) -> Environments:
    path = Path(root)
    escaped = _code_cache(autoescape=True)  # email and web: autoescaped alike
    return Environments(
        email=_make(path, autoescape=True, web=False, shared=escaped),
        text=_make(path, autoescape=False, web=False, shared=_code_cache(autoescape=False)),
        web=_make(path, autoescape=True, web=True, shared=escaped),
    )


def environments(settings: Settings) -> Environments:
    """The environments for this newsletter's ``templates/`` folder (cached per folder)."""
    return _environments(str(settings.templates_dir.resolve()))


def shared_globals(settings: Settings) -> dict[str, Any]:
    """Values every template may use, from newsletter.toml."""
    nl = settings.newsletter
    kit = brand_globals(settings)
    return {
        **kit,
        "newsletter": {
            "name": nl.name,
            "tagline": nl.tagline,
            "language": nl.language,
            "base_url": nl.base_url,
            "postal_address": nl.postal_address,
            "logo_url": kit["brand"]["logo_url"],
            "why": nl.why.replace("{name}", nl.name),
            "subscribe_url": f"{nl.base_url}/subscribe",
            "archive_url": f"{nl.base_url}/archive",
        },
        "sender": {"name": settings.sender.name, "email": settings.sender.email},
    }


def _template_location(
    settings: Settings, tb: TracebackType | None, fallback: str
) -> tuple[str, int | None]:
    """The innermost template frame of a Jinja traceback: (file, line)."""
    found: tuple[str, int | None] = (fallback, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def show(settings: Settings, filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(settings.root.resolve()))
    except ValueError:
        return filename


def render_template(
    settings: Settings, env: jinja2.Environment, name: str, context: dict[str, Any]
) -> str:
    """Render ``name``; Jinja problems become RenderError naming the template file and line."""
    default_file = str(settings.templates_dir / name)
    try:
        template = env.get_template(name)
        return template.render({**shared_globals(settings), **context})
    except jinja2.TemplateSyntaxError as exc:
        where = show(settings, exc.filename or default_file)
        raise RenderError(
            f"template syntax error: {exc.message}",
            path=where,
            line=exc.lineno,
            fix="fix the Jinja tag at that line",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            f"template '{exc.name}' not found",
            path=show(settings, default_file),
            fix=f"create {show(settings, str(settings.templates_dir / str(exc.name)))}",
        ) from None
    except jinja2.UndefinedError as exc:
        where, line = _template_location(settings, exc.__traceback__, default_file)
        raise RenderError(
            f"unknown template variable: {exc.message}",
            path=show(settings, where),
            line=line,
            fix="check the spelling; see the template variables in docs/editors-guide.md",
        ) from None
    except (RenderError, PersonalisationError) as exc:
        where, line = _template_location(settings, exc.__traceback__, default_file)
        raise RenderError(exc.what, path=show(settings, where), line=line, fix=exc.fix) from None
    except jinja2.TemplateError as exc:
        where, line = _template_location(settings, exc.__traceback__, default_file)
        raise RenderError(
            f"template error: {exc.message or exc}",
            path=show(settings, where),
            line=line,
            fix="fix the template at that line",
        ) from None
