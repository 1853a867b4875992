"""Fetching feed bytes: http(s) with httpx, ``file://`` URLs and local paths.

Every fetch is bounded: a timeout for the whole fetch (``[feeds] timeout`` seconds), a size
cap checked while streaming (``max_bytes``, counted after gzip decoding so a compressed bomb
stops early too), at most ``max_redirects`` redirects, and at most ``concurrency`` fetches at
once. A conditional GET sends the ETag and Last-Modified of the previous fetch; 304 means
nothing changed. Failures are returned as values (``FetchResult.error``), never raised, so
one bad feed never stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import httpx

from pipeline.config import Settings


@dataclass(frozen=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FetchResult:
    url: str
    status: str  # ok | not_modified | error
    content: bytes = b""
    content_type: str | None = None
    final_url: str = ""
    etag: str | None = None
    last_modified: str | None = None
    http_status: int | None = None
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _TooLarge(Exception):
    pass


def _too_large(settings: Settings) -> str:
    return f"larger than {settings.feeds.max_bytes:,} bytes ([feeds] max_bytes)"


def local_path(url: str) -> Path | None:
    """The file a source names, or None for an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https"):
        return None
    if parts.scheme.lower() == "file":
        return Path(url2pathname(unquote(parts.path)))
    return Path(url)


def _read_file(request: FetchRequest, path: Path, settings: Settings) -> FetchResult:
    try:
        with path.open("rb") as fh:
            data = fh.read(settings.feeds.max_bytes + 1)
    except FileNotFoundError:
        return FetchResult(request.url, "error", error=f"no such file: {path}")
    except OSError as exc:
        return FetchResult(request.url, "error", error=f"cannot read {path}: {exc.strerror}")
    if len(data) > settings.feeds.max_bytes:
        return FetchResult(request.url, "error", error=_too_large(settings))
    return FetchResult(request.url, "ok", content=data, final_url=path.as_uri())


async def _get(client: httpx.AsyncClient, request: FetchRequest, settings: Settings) -> FetchResult:
    headers = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    async with client.stream("GET", request.url, headers=headers) as response:
        base = FetchResult(
            request.url,
            "error",
            final_url=str(response.url),
            http_status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
        )
        if response.status_code == 304:
            base.status = "not_modified"
            return base
        if not 200 <= response.status_code < 300:
            reason = response.reason_phrase or ""
            base.error = f"HTTP {response.status_code} {reason}".strip()
            return base
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.feeds.max_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > settings.feeds.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
        base.status = "ok"
        base.content = b"".join(chunks)
        base.content_type = response.headers.get("content-type")
        base.etag = response.headers.get("etag")
        base.last_modified = response.headers.get("last-modified")
        return base


async def _fetch_one(
    client: httpx.AsyncClient, request: FetchRequest, settings: Settings
) -> FetchResult:
    path = local_path(request.url)
    if path is not None:
        return await asyncio.to_thread(_read_file, request, path, settings)
    timeout = settings.feeds.timeout
    try:
        return await asyncio.wait_for(_get(client, request, settings), timeout)
    except (TimeoutError, httpx.TimeoutException):
        return FetchResult(request.url, "error", error=f"timed out after {timeout:g} s")
    except _TooLarge:
        return FetchResult(request.url, "error", error=_too_large(settings))
    except httpx.TooManyRedirects:
        return FetchResult(
            request.url,
            "error",
            error=f"more than {settings.feeds.max_redirects} redirects ([feeds] max_redirects)",
        )
    except httpx.DecodingError:
        return FetchResult(request.url, "error", error="the response body could not be decoded")
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        return FetchResult(request.url, "error", error=f"cannot connect: {detail}")


async def _fetch_all(
    settings: Settings,
    requests: Sequence[FetchRequest],
    on_done: Callable[[FetchResult], None] | None,
) -> list[FetchResult]:
    limit = asyncio.Semaphore(settings.feeds.concurrency)
    timeout = httpx.Timeout(settings.feeds.timeout)
    limits = httpx.Limits(max_connections=settings.feeds.concurrency)
    async with httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        follow_redirects=True,
        max_redirects=settings.feeds.max_redirects,
        headers={"User-Agent": settings.feeds.user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,
    ) as client:

        async def run(request: FetchRequest) -> FetchResult:
            async with limit:
                result = await _fetch_one(client, request, settings)
            if on_done is not None:
                on_done(result)
            return result

        return list(await asyncio.gather(*(run(r) for r in requests)))


def fetch_all(
    settings: Settings,
    requests: Sequence[FetchRequest],
    on_done: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Fetch every request, at most ``[feeds] concurrency`` at once; results in order.
    ``on_done`` is called as each fetch finishes, for progress bars. Callable from inside a
    running event loop too (the fetching then runs on a worker thread)."""
    if not requests:
        return []
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_fetch_all(settings, requests, on_done))
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _fetch_all(settings, requests, on_done)).result()
