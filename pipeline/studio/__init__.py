"""The editors' studio, served at ``/admin`` by the web app (``pipeline.web.app``).

``router`` holds every studio route, with its full path. Only the login page is open
(``login.router``); every other page goes on ``pages`` (prefix ``/admin``), whose routes
all require a signed-in account (``auth.current_user``): a page module adds its router
(paths relative to /admin, e.g. ``/issues``) to ``PAGE_ROUTERS`` and is protected without
asking. ``tests/studio/test_routes_protected.py`` walks every route of
the app and proves it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from pipeline.studio import dashboard, editor, login, results, review, subscribers
from pipeline.studio.auth import current_user

#: The routers of the studio's page modules (each with paths relative to /admin). The
#: editor's come before the issue page's (``/issues/new`` before ``/issues/{slug}``).
PAGE_ROUTERS: list[APIRouter] = [
    editor.router,
    review.router,
    results.router,
    subscribers.router,
]

pages = APIRouter(prefix="/admin", dependencies=[Depends(current_user)])
for page_router in PAGE_ROUTERS:
    pages.include_router(page_router)
pages.add_api_route("", dashboard.home, methods=["GET"], summary="The studio's dashboard")


router = APIRouter()
router.include_router(login.router, prefix="/admin")
router.include_router(pages)

__all__ = ["PAGE_ROUTERS", "router"]
