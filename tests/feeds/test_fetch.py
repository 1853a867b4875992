from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.config import Settings
from pipeline.feeds.fetch import FetchRequest, FetchResult, fetch_all
from tests.feeds.samples import RSS_20
from tests.feeds.server import FeedServer

Make = Callable[..., Settings]


def one(settings: Settings, url: str, **kw: str) -> FetchResult:
    [result] = fetch_all(settings, [FetchRequest(url, **kw)])
    return result


def test_fetch_ok_with_headers(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add(
        "/rss", RSS_20, headers={"Content-Type": "application/rss+xml; charset=utf-8"}
    )
    result = one(fetch_settings(), url)
    assert result.ok and result.content == RSS_20.encode()
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.final_url == url
    [sent] = feed_server.seen("/rss")
    assert sent["user-agent"].startswith("newsletter-pipeline/")


def test_gzip_is_decoded(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add("/gz", RSS_20, gzip=True)
    result = one(fetch_settings(), url)
    assert result.ok and result.content == RSS_20.encode()
    assert "gzip" in feed_server.seen("/gz")[0]["accept-encoding"]


def test_conditional_get_gives_304(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add(
        "/cond", RSS_20, etag='"v1"', last_modified="Mon, 30 Nov 2026 10:00:00 GMT"
    )
    first = one(fetch_settings(), url)
    assert first.ok and first.etag == '"v1"'
    assert first.last_modified == "Mon, 30 Nov 2026 10:00:00 GMT"
    second = one(fetch_settings(), url, etag=first.etag or "", last_modified="")
    assert second.status == "not_modified" and second.content == b""
    third = one(fetch_settings(), url, last_modified=first.last_modified or "")
    assert third.status == "not_modified"
    sent = feed_server.seen("/cond")
    assert "if-none-match" not in sent[0]
    assert sent[1]["if-none-match"] == '"v1"'
    assert sent[2]["if-modified-since"] == "Mon, 30 Nov 2026 10:00:00 GMT"


def test_http_500(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add("/err", "oops", status=500)
    result = one(fetch_settings(), url)
    assert (result.status, result.error, result.http_status) == (
        "error",
        "HTTP 500 Internal Server Error",
        500,
    )


def test_404(feed_server: FeedServer, fetch_settings: Make) -> None:
    assert one(fetch_settings(), feed_server.url("/nothing")).error == "HTTP 404 Not Found"


def test_slow_response_times_out(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add("/slow", hold=True)
    result = one(fetch_settings(**{"feeds.timeout": 0.2}), url)
    assert (result.status, result.error) == ("error", "timed out after 0.2 s")


def test_redirect_loop(feed_server: FeedServer, fetch_settings: Make) -> None:
    feed_server.add("/loop-a", redirect="/loop-b")
    url = feed_server.add("/loop-b", redirect="/loop-a")
    result = one(fetch_settings(), url)
    assert result.error == "more than 3 redirects ([feeds] max_redirects)"


def test_redirect_followed(feed_server: FeedServer, fetch_settings: Make) -> None:
    feed_server.add("/moved", redirect="/new-home")
    target = feed_server.add("/new-home", RSS_20)
    result = one(fetch_settings(), feed_server.url("/moved"))
    assert result.ok and result.final_url == target


def test_huge_file_with_length_is_refused(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add("/huge", b"<rss>" + b"x" * 200_000)
    assert one(fetch_settings(), url).error == "larger than 65,536 bytes ([feeds] max_bytes)"


def test_huge_stream_without_length_is_cut(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add("/huge-stream", b"<rss>" + b"x" * 200_000, chunked=True)
    assert one(fetch_settings(), url).error == "larger than 65,536 bytes ([feeds] max_bytes)"


def test_gzip_bomb_is_cut(feed_server: FeedServer, fetch_settings: Make) -> None:
    url = feed_server.add("/bomb", b" " * 5_000_000, gzip=True)
    assert one(fetch_settings(), url).error == "larger than 65,536 bytes ([feeds] max_bytes)"


def test_connection_refused(fetch_settings: Make) -> None:
    from tests.conftest import free_port

    result = one(fetch_settings(), f"http://127.0.0.1:{free_port()}/feed")
    assert result.status == "error" and result.error.startswith("cannot connect: ")


def test_local_path_and_file_url(tmp_path: Path, fetch_settings: Make) -> None:
    path = tmp_path / "feed with space.xml"
    path.write_text(RSS_20)
    settings = fetch_settings()
    by_path = one(settings, str(path))
    by_url = one(settings, path.as_uri())
    assert by_path.ok and by_url.ok
    assert by_path.content == by_url.content == RSS_20.encode()
    missing = one(settings, str(tmp_path / "missing.xml"))
    assert missing.error == f"no such file: {tmp_path / 'missing.xml'}"
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 70_000)
    assert one(settings, str(big)).error == "larger than 65,536 bytes ([feeds] max_bytes)"


def test_many_at_once_keep_order_and_one_failure_stops_nothing(
    feed_server: FeedServer, fetch_settings: Make
) -> None:
    urls = [feed_server.add(f"/f{i}", RSS_20) for i in range(10)]
    urls.insert(3, feed_server.add("/slow", hold=True))
    urls.insert(6, feed_server.add("/bad", status=500))
    done: list[str] = []
    results = fetch_all(
        fetch_settings(**{"feeds.concurrency": 3, "feeds.timeout": 2.0}),
        [FetchRequest(u) for u in urls],
        lambda r: done.append(r.url),
    )
    assert [r.url for r in results] == urls
    assert sorted(done) == sorted(urls)
    assert [r.status for r in results].count("ok") == 10
    assert results[3].error == "timed out after 2 s"
    assert results[6].error == "HTTP 500 Internal Server Error"


def test_fetch_from_inside_a_running_event_loop(
    feed_server: FeedServer, fetch_settings: Make
) -> None:
    """E.g. under Playwright's sync API or an async web app."""
    import asyncio

    url = feed_server.add("/rss", RSS_20)

    async def inside() -> FetchResult:
        return one(fetch_settings(), url)

    # A thread of its own: this test session may already run a loop on the main thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(asyncio.run, inside()).result().ok
