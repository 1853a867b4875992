"""``require_role`` on a studio page: a lower role gets a 403 page that names the role;
``audit_action`` records who did what with their IP; ``read_form`` refuses a form without
its CSRF token. Tried on a small router added to the real app, as a page module would."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pipeline.accounts import audit
from pipeline.accounts.users import Account
from pipeline.studio.auth import audit_action, read_form, require_role, studio_page
from tests.studio.helpers import signed_in
from tests.web.conftest import Server, csrf_from


def _mount(server: Server) -> None:
    extra = APIRouter(prefix="/admin")

    @extra.get("/approvals")
    async def approvals(
        request: Request, user: Account = Depends(require_role("approver"))
    ) -> Response:
        return studio_page(request, "studio/base.html", user=user)

    @extra.post("/approvals")
    async def approve(
        request: Request, user: Account = Depends(require_role("approver"))
    ) -> Response:
        form = await read_form(request)
        audit_action(request, user, "issue.approve", str(form.get("slug")))
        return Response(status_code=204)

    server.app.include_router(extra)


def test_a_lower_role_is_refused_with_the_role_named(
    server: Server, editor: Account, approver: Account, admin: Account
) -> None:
    _mount(server)
    with server.client() as client:
        signed_in(client, editor.email)
        refused = client.get("/admin/approvals")
        assert refused.status_code == 403
        assert "This needs the approver role or above" in refused.text
        assert client.post("/admin/approvals", data={}).status_code == 403
    for account in (approver, admin):
        with server.client() as client:
            signed_in(client, account.email)
            page = client.get("/admin/approvals")
            assert page.status_code == 200
            assert "script-src 'self' 'nonce-" in page.headers["content-security-policy"]
            assert client.post("/admin/approvals", data={"slug": "x"}).status_code == 403  # no CSRF
            done = client.post(
                "/admin/approvals",
                data={"slug": "2026-12-01-x", "csrf_token": csrf_from(page.text)},
            )
            assert done.status_code == 204
    entries = audit.recent(server.engine, 2, action="issue.approve")
    assert [(e.actor, e.target, (e.detail or {}).get("ip")) for e in entries] == [
        (admin.email, "2026-12-01-x", "127.0.0.1"),
        (approver.email, "2026-12-01-x", "127.0.0.1"),
    ]
