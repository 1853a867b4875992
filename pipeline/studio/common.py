"""What the studio's page modules share on top of ``pipeline.studio.auth``: rendering a
page of templates/web/studio/, reading a checked form (with room for an image upload or a
long article), the editor of a save, and the audit log entry of an action."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from pipeline.accounts.users import Account
from pipeline.content.editing import Editor
from pipeline.studio.auth import CsrfRefused, audit_action, csrf_valid, studio_page

ADMIN = "/admin"

#: The largest form with text (an article and its front matter).
MAX_TEXT_FORM = 1024 * 1024
#: The largest upload (an image; the web app's body limit for /admin/ is above it).
MAX_UPLOAD_FORM = 9 * 1024 * 1024


def page(
    request: Request, template: str, user: Account, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page of templates/web/studio/ for ``user``."""
    return studio_page(request, f"studio/{template}", status, user=user, admin=ADMIN, **context)


async def checked_form(request: Request, *, limit: int = MAX_TEXT_FORM, files: int = 0) -> FormData:
    """The request's form (at most ``limit`` bytes, ``files`` uploads), refused without a
    valid CSRF token (``CsrfRefused``: a 403 page)."""
    body = await request.body()
    if len(body) > limit:
        raise HTTPException(413)
    try:
        form = await request.form(max_files=files, max_fields=200)
    except Exception:  # malformed form encoding, too many files or fields
        raise HTTPException(400, "The form could not be read. Please try again.") from None
    if not csrf_valid(request, form):
        raise CsrfRefused()
    return form


def text_field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value if isinstance(value, str) else default


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def editor_of(user: Account) -> Editor:
    return Editor(user.name, user.email)


def audit(request: Request, user: Account, action: str, target: str, **detail: Any) -> None:
    """Record ``action`` on ``target`` in the audit log (who, what, when, from where)."""
    audit_action(request, user, action, target, detail)
