"""The editors' studio, served at ``/admin`` by the web app (``pipeline.web.app``).

``router`` holds every studio route, with its full path. Only the login page is open
(``login.router``); every other page goes on ``pages`` (prefix ``/admin``), whose routes
all require a signed-in account (``auth.current_user``): a page module adds its router
(paths relative to /admin, e.g. ``/issues``) to ``PAGE_ROUTERS`` and is protected without
asking. ``tests/studio/test_routes_protected.py`` walks every route of
the app and proves it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pipeline.accounts.users import Account
from pipeline.studio import login
from pipeline.studio.auth import current_user, studio_page

#: The routers of the studio's page modules (each with paths relative to /admin).
PAGE_ROUTERS: list[APIRouter] = []

pages = APIRouter(prefix="/admin", dependencies=[Depends(current_user)])
for page_router in PAGE_ROUTERS:
    pages.include_router(page_router)


# The studio's home until the dashboard takes /admin (replace this route with it).
@pages.get("", summary="The studio's home page")
async def welcome(request: Request, user: Account = Depends(current_user)) -> Response:
    return studio_page(request, "studio/welcome.html", user=user)


router = APIRouter()
router.include_router(login.router, prefix="/admin")
router.include_router(pages)

__all__ = ["PAGE_ROUTERS", "router"]
