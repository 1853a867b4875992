"""The tracking endpoints (thin: the rules are in ``pipeline.tracking``).

- ``GET|HEAD /l/{token}/{index}``: 302 to the link's target, read from the stored edition
  (never from the request: no open redirect); 404 when the token or the index is not
  valid. The click is queued, so a busy database never delays the redirect.
- ``GET|HEAD /o/{token}.gif``: the open pixel, a 1x1 transparent GIF, never cached.

The IP address and user agent are passed to the verdict and not kept.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from pipeline.tracking.record import Tracker
from pipeline.web.pages import BINARY, REASONS, answers, error_page, get_ctx

router = APIRouter()

#: The smallest transparent GIF (43 bytes).
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}


#: A valid link redirects (302, Location: the stored target); anything else is a 404 page.
LINK_RESPONSES = answers(ok={})
LINK_RESPONSES[302] = {
    "description": REASONS[302],
    "headers": {"Location": {"schema": {"type": "string"}}},
}


def tracker(request: Request) -> Tracker:
    found: Tracker = get_ctx(request).extra["tracker"]
    return found


@router.api_route(
    "/l/{token}/{index}",
    methods=["GET", "HEAD"],
    summary="A tracked link: redirect",
    response_class=RedirectResponse,
    status_code=302,
    responses=LINK_RESPONSES,
)
async def tracked_link(token: str, index: str, request: Request) -> Response:
    ctx = get_ctx(request)
    target = tracker(request).click(
        token,
        index,
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        ip=ctx.ip(request),
    )
    if target is None:
        return error_page(request, 404, "This link is not valid. Copy the whole link.")
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


@router.api_route(
    "/o/{name}",
    methods=["GET", "HEAD"],
    summary="The open pixel",
    response_class=Response,
    responses=answers(ok={"image/gif": BINARY}),
)
async def open_pixel(name: str, request: Request) -> Response:
    ctx = get_ctx(request)
    if name.endswith(".gif"):
        tracker(request).open(
            name.removesuffix(".gif"),
            method=request.method,
            user_agent=request.headers.get("user-agent", ""),
            ip=ctx.ip(request),
        )
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)
