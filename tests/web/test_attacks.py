"""Each attack of the security review, performed against the real app: none does harm."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from itsdangerous import TimestampSigner
from sqlalchemy import Engine, select, text

from pipeline.config import Settings
from pipeline.store.tables import subscribers
from pipeline.subscribers import service
from pipeline.subscribers.erasure import erase
from pipeline.tokens import make_token
from pipeline.web.security import csrf_ok, make_csrf_token
from tests.web.conftest import Server, csrf_from, link_in, mails
from tests.web.helpers import confirm_link, other_server, person, signup, solve_altcha


def _public_id(server: Server, email: str) -> str:
    info = service.get_subscriber(server.engine, email=email)
    assert info is not None
    return info.public_id


def test_an_erased_persons_links_do_nothing_to_the_next_signup(server: Server) -> None:
    with server.client() as client:
        signup(client, "first@example.com")
        [first_confirm] = mails(server.settings, "Please confirm", to="first@example.com")
        confirm_link(client, link_in(first_confirm, "/confirm/"))
    old_id = service.get_subscriber(server.engine, email="first@example.com")
    assert old_id is not None
    keys = server.settings.keys
    old_unsubscribe = make_token(keys, "unsubscribe", old_id.public_id)
    old_preferences = make_token(keys, "preferences", old_id.public_id)
    erase(server.engine, "first@example.com")
    service.add_subscriber(
        server.engine, "second@example.com", lists=["news"], method="cli", confirmed=True
    )
    second = service.get_subscriber(server.engine, email="second@example.com")
    assert second is not None
    assert second.id != old_id.id  # ids are never reused (AUTOINCREMENT / a sequence)
    with server.client() as client:
        page = client.get(f"/unsubscribe/{old_unsubscribe}")
        assert page.status_code == 200 and "ki***" not in page.text
        client.post(f"/unsubscribe/{old_unsubscribe}", data={"csrf_token": csrf_from(page.text)})
        client.post(f"/unsubscribe/{old_unsubscribe}", content=b"List-Unsubscribe=One-Click")
        prefs = client.get(f"/preferences/{old_preferences}")
        assert prefs.status_code == 400
        assert "second@" not in prefs.text and "se***" not in prefs.text
        replay = confirm_link(client, link_in(first_confirm, "/confirm/"))
        assert replay.status_code == 400
    assert person(server.engine, "second@example.com")["status"] == "active"
    assert person(server.engine, "second@example.com")["lists"]["news"].status == "confirmed"


def test_a_legacy_link_with_a_reused_row_id_is_refused(server: Server) -> None:
    """Links made before public ids carried the row id. Even if SQLite reused that id, the
    link was signed before the new person existed, so it names no one."""
    signer = TimestampSigner(server.settings.secrets.secret_key, salt="newsletter.unsubscribe")
    with server.engine.begin() as conn:  # the next row id, signed before it exists
        next_id = int(
            conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM subscribers")).scalar_one()
        )
    old_link = signer.sign(str(next_id)).decode()
    service.add_subscriber(
        server.engine, "late@example.com", lists=["news"], method="cli", confirmed=True
    )
    with server.engine.connect() as conn:
        created = conn.execute(select(subscribers.c.id)).scalar_one()
    # make the signature older than the row, as with a reused id
    with server.engine.begin() as conn:
        conn.execute(subscribers.update().values(created_at=server.clock.now().replace(year=2030)))
    assert created == next_id
    answer = httpx.post(
        f"{server.url}/unsubscribe/{old_link}", content=b"List-Unsubscribe=One-Click"
    )
    assert answer.status_code == 200  # providers get a plain 200 either way
    assert person(server.engine, "late@example.com")["status"] == "active"


def test_a_legacy_link_of_an_existing_subscriber_still_unsubscribes(server: Server) -> None:
    service.add_subscriber(
        server.engine, "old@example.com", lists=["news"], method="cli", confirmed=True
    )
    info = service.get_subscriber(server.engine, email="old@example.com")
    assert info is not None
    signer = TimestampSigner(server.settings.secrets.secret_key, salt="newsletter.unsubscribe")
    old_link = signer.sign(str(info.id)).decode()
    answer = httpx.post(
        f"{server.url}/unsubscribe/{old_link}", content=b"List-Unsubscribe=One-Click"
    )
    assert answer.status_code == 200
    assert person(server.engine, "old@example.com")["status"] == "unsubscribed"


def test_a_scanner_get_confirms_nothing_and_a_replay_after_unsubscribe_does_nothing(
    server: Server,
) -> None:
    with server.client() as client:
        signup(client, "scan@example.com", lists=["news", "beauty-tips"])
        [confirm] = mails(server.settings, "Please confirm", to="scan@example.com")
        url = link_in(confirm, "/confirm/")
        assert "?" not in url  # the lists are inside the signature
        for _ in range(3):  # a link scanner follows the link (GET, HEAD)
            assert client.get(url).status_code == 200
            client.head(url)
        assert person(server.engine, "scan@example.com")["lists"]["news"].status == "unconfirmed"
        # lists cannot be added to the link
        assert client.get(url + "?lists=news,beauty-tips,other").status_code == 200

        assert confirm_link(client, url).status_code == 200
        assert len(mails(server.settings, "Welcome to Glow Notes", to="scan@example.com")) == 1
        again = confirm_link(client, url)  # used twice: nothing new, no second welcome
        assert again.status_code == 200
        assert len(mails(server.settings, "Welcome to Glow Notes", to="scan@example.com")) == 1

        info = service.get_subscriber(server.engine, email="scan@example.com")
        assert info is not None
        service.unsubscribe(server.engine, info.id, None, method="web")
        replay = confirm_link(client, url)
        assert replay.status_code == 400
        assert "sent before you unsubscribed" in replay.text
    scan = person(server.engine, "scan@example.com")
    assert scan["status"] == "unsubscribed"
    assert {s.status for s in scan["lists"].values()} == {"unsubscribed"}
    assert len(mails(server.settings, "Welcome to Glow Notes", to="scan@example.com")) == 1


def test_a_confirmation_post_without_the_pages_csrf_token_is_refused(server: Server) -> None:
    with server.client() as client:
        signup(client, "csrf@example.com")
        [confirm] = mails(server.settings, "Please confirm", to="csrf@example.com")
        url = link_in(confirm, "/confirm/")
    answer = httpx.post(url, data={"csrf_token": "x"})
    assert answer.status_code == 403
    assert person(server.engine, "csrf@example.com")["lists"]["beauty-tips"].status == (
        "unconfirmed"
    )


def test_a_planted_csrf_cookie_is_replaced_and_refused(server: Server) -> None:
    planted = "planted-by-a-sibling-subdomain-0123456789"
    with server.client() as client:
        client.cookies.set("nl_csrf", planted)
        page = client.get("/subscribe")
        # the server does not sign a value it did not issue: it sets its own cookie instead
        assert "nl_csrf" in page.cookies and page.cookies["nl_csrf"] != planted
        token = csrf_from(page.text)
        assert not csrf_ok(server.settings.secrets.secret_key, planted, token)
    # the old attack: plant a cookie in the victim's browser, post a token for it cross-site
    with server.client() as victim:
        victim.cookies.set("nl_csrf", planted)
        forged = make_csrf_token(server.settings.secrets.secret_key, planted)
        answer = victim.post(
            "/subscribe",
            data={
                "altcha": solve_altcha(victim),
                "csrf_token": forged,
                "email": "planted@example.com",
                "consent": "yes",
                "lists": ["beauty-tips"],
                "name": "",
                "website": "",
            },
        )
    assert answer.status_code == 403 and "form had expired" in answer.text
    assert mails(server.settings, "Please confirm", to="planted@example.com") == []


def _raw_connection(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def test_a_chunked_body_is_cut_at_the_cap_and_does_not_block_others(server: Server) -> None:
    """The attack: POST /subscribe, chunked, a body far over the cap, sent slowly. The app
    answers 413 once the cap is passed, without reading the rest, and meanwhile another
    request is served (it completes while the upload is still open)."""
    upload = _raw_connection(server.url)
    upload.sendall(
        b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"[" + b"1," * 8_000
    upload.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))  # 16 KB: under the cap, unfinished
    with httpx.Client(base_url=server.url, timeout=30) as other:
        assert other.get("/feed.xml").status_code == 200  # served while the upload hangs
    for _ in range(4):  # now past the 64 KB cap; the body never ends (no last chunk)
        upload.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    answer = b""
    while b"\r\n\r\n" not in answer:  # the answer comes although the body is unfinished
        data = upload.recv(65536)
        if not data:
            break
        answer += data
    upload.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    with httpx.Client(base_url=server.url, timeout=30) as other:
        assert other.get("/feed.xml").status_code == 200


def test_a_declared_large_body_is_refused_before_reading(server: Server) -> None:
    conn = _raw_connection(server.url)
    conn.sendall(
        b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\n\r\n{}"
    )
    answer = conn.recv(65536)  # answered at once: the 10 MB are never waited for
    conn.close()
    assert answer.startswith(b"HTTP/1.1 413")


PROXIED = {"web.trusted_proxies": ["127.0.0.0/8"]}


def test_25_signups_from_5_addresses_send_one_email(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    with other_server(make_settings, db_url, engine, **PROXIED) as server:
        answers = []
        for n in range(5):
            with server.client(headers={"X-Forwarded-For": f"198.51.100.{n + 1}"}) as client:
                for _ in range(5):
                    answers.append(signup(client, "victim@example.com"))
        assert [a.status_code for a in answers] == [200] * 25
        assert len(mails(server.settings, "Please confirm", to="victim@example.com")) == 1
        # a day later the person may ask again
        server.clock.advance(timedelta(days=1))
        with server.client(headers={"X-Forwarded-For": "198.51.100.9"}) as client:
            signup(client, "victim@example.com")
        assert len(mails(server.settings, "Please confirm", to="victim@example.com")) == 2


def test_suppressed_addresses_get_no_email_and_the_same_answer(server: Server) -> None:
    for email, reason in (("left@example.com", "unsubscribe"), ("spam@example.com", "complained")):
        service.add_subscriber(server.engine, email, lists=["news"], method="cli", confirmed=True)
        info = service.get_subscriber(server.engine, email=email)
        assert info is not None
        if reason == "unsubscribe":
            service.unsubscribe(server.engine, info.id, None, method="web")
        else:
            service.suppress(server.engine, email, "complained", source="test")
    with server.client() as client:
        fresh = signup(client, "new@example.com")
        for email in ("left@example.com", "spam@example.com"):
            answer = signup(client, email)
            assert answer.status_code == fresh.status_code == 200
            assert _main(answer.text) == _main(fresh.text)
            assert mails(server.settings, "Please confirm", to=email) == []
    assert len(mails(server.settings, "Please confirm", to="new@example.com")) == 1


def _main(html: str) -> str:
    """The page without its per-visit CSRF token."""
    return re.sub(r'value="[^"]+"', "", html)


def test_ipv6_clients_are_limited_per_64(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    limits = {**PROXIED, "web.signup_rate_limit": 2}
    with other_server(make_settings, db_url, engine, **limits) as server:
        codes = []
        for n, suffix in enumerate(["::1", "::2", ":a:b:c:d"]):
            headers = {"X-Forwarded-For": f"2001:db8:1:2{suffix}"}
            with server.client(headers=headers) as client:
                codes.append(signup(client, f"v6-{n}@example.com").status_code)
        with server.client(headers={"X-Forwarded-For": "2001:db8:1:3::1"}) as client:
            codes.append(signup(client, "v6-other@example.com").status_code)
    assert codes == [200, 200, 429, 200]  # the third shares the /64 of the first two


def test_invalid_posts_count_against_the_limit(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    with other_server(make_settings, db_url, engine, **{"web.signup_rate_limit": 3}) as server:
        codes = [
            httpx.post(f"{server.url}/subscribe", json={"email": "x"}).status_code for _ in range(4)
        ]
    assert codes == [403, 403, 403, 429]  # refused (no proof of work), and counted


def test_the_hourly_cap_stops_confirmation_emails(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    overrides = {**PROXIED, "web.confirm_hourly_cap": 2}
    with other_server(make_settings, db_url, engine, **overrides) as server:
        for n in range(3):
            with server.client(headers={"X-Forwarded-For": f"203.0.113.{n + 1}"}) as client:
                assert signup(client, f"cap{n}@example.com").status_code == 200
        assert len(mails(server.settings, "Please confirm")) == 2
