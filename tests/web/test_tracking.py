"""Tracked links and the open pixel against a real server: the redirect's target comes
from the stored edition, people and scanners are told apart, opted-out subscribers get
direct links, and a locked database never delays a redirect."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from pipeline.subscribers import service
from pipeline.subscribers.erasure import erase
from pipeline.tracking.stats import edition_stats
from tests.web.conftest import Server, csrf_from, html_of, link_in, mails
from tests.web.helpers import signup
from tests.web.tracking_helpers import (
    CHROME,
    flush,
    hrefs,
    message_to,
    recorded,
    send_issue,
    shop,
    tracked_links,
)


def test_a_click_redirects_to_the_stored_target_and_is_recorded(server: Server) -> None:
    with shop() as shop_url:
        eid = send_issue(server, shop_url, ["ann@example.com"])
        message = message_to(server, "ann@example.com")
        links = tracked_links(message)
        assert [link.rsplit("/", 1)[1] for link in links] == ["0", "1", "2"]
        assert all(link.startswith(f"{server.url}/l/") for link in links)
        assert not any(h.startswith(shop_url) for h in hrefs(message))
        [pixel] = [p for p in html_of(message).split('"') if "/o/" in p]

        with server.client(headers={"User-Agent": CHROME}) as client:
            answer = client.get(links[1] + "?url=https://evil.example/")
            assert answer.status_code == 302
            assert answer.headers["location"] == f"{shop_url}/serum"
            assert answer.headers["cache-control"] == "no-store, private"
            image = client.get(pixel)
            assert (image.status_code, image.headers["content-type"]) == (200, "image/gif")
            assert image.content.startswith(b"GIF89a")
            server.clock.advance(timedelta(minutes=1))  # not in the same burst
            assert client.head(links[2]).status_code == 302  # answered, judged a machine
            assert client.get(links[1].rsplit("/", 1)[0] + "/99").status_code == 404
            assert client.get(links[1].replace("/l/", "/l/x")).status_code == 404
            assert client.get(f"{server.url}/l/not-a-token/1").status_code == 404
        assert flush(server) == 3
        assert recorded(server.engine) == [
            ("click", 1, "human", None),
            ("open", None, "human", None),
            ("click", 2, "machine", "head"),
        ]
        stats = edition_stats(server.engine, eid)
        assert (stats.opens, stats.clicks, stats.machine_clicks) == (1, 1, 1)
        assert [(k.index, k.text, k.unique_clicks, k.machine_clicks) for k in stats.links] == [
            (1, "Shop the serum", 1, 0),
            (2, "Shop the cream", 0, 1),
            (0, "", 0, 0),
        ]


def test_a_scanner_that_fetches_every_link_within_a_second_is_a_machine(
    server: Server,
) -> None:
    with shop() as shop_url:
        eid = send_issue(server, shop_url, ["bob@example.com", "cy@example.com"])
        scanned = tracked_links(message_to(server, "bob@example.com"))
        # A security gateway fetching every link of Bob's message at once, disguised as a
        # browser: the honeypot and the burst give it away.
        with server.client(headers={"User-Agent": CHROME}) as scanner:
            for link in scanned:
                assert scanner.get(link).status_code == 302
        flush(server)
        # Cy opens the message and clicks one link, as people do
        cy_links = tracked_links(message_to(server, "cy@example.com"))
        with server.client(headers={"User-Agent": CHROME}) as person:
            assert person.get(cy_links[2]).headers["location"] == f"{shop_url}/cream"
        flush(server)
        verdicts = recorded(server.engine)
        assert verdicts[:3] == [("click", i, "machine", "honeypot") for i in (0, 1, 2)]
        assert verdicts[3:] == [("click", 2, "human", None)]
        stats = edition_stats(server.engine, eid)
        assert (stats.clicks, stats.machine_clicks, stats.opens) == (1, 3, 1)


def test_a_subscriber_who_turned_tracking_off_gets_direct_links(server: Server) -> None:
    with shop() as shop_url:
        send_issue(server, shop_url, ["dee@example.com"], untracked=("dee@example.com",))
        message = message_to(server, "dee@example.com")
        assert tracked_links(message) == []
        assert f"{shop_url}/serum" in hrefs(message)
        assert f"{server.url}/o/" not in html_of(message)  # no pixel


def test_the_preferences_page_turns_tracking_off(server: Server) -> None:
    with shop() as shop_url:
        send_issue(server, shop_url, ["eve@example.com"])
        preferences = link_in(message_to(server, "eve@example.com"), "/preferences/")
    with server.client() as client:
        page = client.get(preferences)
        assert 'name="tracking" value="on" checked' in page.text
        saved = client.post(
            preferences,
            data={
                "csrf_token": csrf_from(page.text),
                "action": "save",
                "name": "Eve",
                "lists": ["beauty-tips"],
            },
        )
        assert saved.status_code == 200
        assert 'name="tracking" value="on">' in saved.text  # no longer ticked
    with server.engine.connect() as conn:
        allowed = conn.execute(
            text("SELECT tracking FROM subscribers WHERE email = 'eve@example.com'")
        ).scalar()
    assert not allowed


def test_the_redirect_answers_while_the_database_is_locked(server: Server) -> None:
    with shop() as shop_url:
        send_issue(server, shop_url, ["fay@example.com"])
        link = tracked_links(message_to(server, "fay@example.com"))[1]
        locker = server.engine.connect()
        try:
            if server.engine.dialect.name == "sqlite":
                # another process writing: BEGIN IMMEDIATE holds the write lock
                locker.exec_driver_sql("DELETE FROM web_rate_limits")
            else:
                locker.exec_driver_sql("BEGIN")
                locker.exec_driver_sql("LOCK TABLE delivery_events IN EXCLUSIVE MODE")
            with server.client(headers={"User-Agent": CHROME}) as client:
                answer = client.get(link)
            assert answer.headers["location"] == f"{shop_url}/serum"
        finally:
            locker.rollback()
            locker.close()
        assert flush(server) == 1
        assert recorded(server.engine) == [("click", 1, "human", None)]


def test_the_confirmation_email_carries_no_tracking(server: Server) -> None:
    with server.client() as client:
        assert signup(client, "hal@example.com").status_code == 200
    [confirm] = mails(server.settings, "Please confirm", to="hal@example.com")
    assert f"{server.url}/l/" not in html_of(confirm)
    assert f"{server.url}/o/" not in html_of(confirm)


def test_a_tracking_token_names_the_public_id_and_an_erased_persons_link_records_nothing(
    server: Server,
) -> None:
    with shop() as shop_url:
        send_issue(server, shop_url, ["gus@example.com", "ida@example.com"])
        gus = service.get_subscriber(server.engine, email="gus@example.com")
        assert gus is not None
        links = tracked_links(message_to(server, "gus@example.com"))
        token = links[1].rsplit("/", 2)[1]
        assert token.split(".")[0] == gus.public_id  # never the row id
        assert str(gus.id) not in token.split(".")[:1]
        erase(server.engine, "gus@example.com")
        # the next signup gets a new row and a new public id: the old link is nobody's
        service.add_subscriber(
            server.engine, "jo@example.com", lists=["beauty-tips"], method="cli", confirmed=True
        )
        with server.client(headers={"User-Agent": CHROME}) as client:
            answer = client.get(links[1])  # still redirects: the target is the edition's
            assert answer.status_code == 302
            assert answer.headers["location"] == f"{shop_url}/serum"
            assert (
                client.get(links[1].replace("/l/", "/o/").rsplit("/", 1)[0] + ".gif").status_code
                == 200
            )
        assert flush(server) == 0
        assert recorded(server.engine) == []
        # a living person's link is still recorded
        with server.client(headers={"User-Agent": CHROME}) as client:
            assert (
                client.get(tracked_links(message_to(server, "ida@example.com"))[1]).status_code
                == 302
            )
        assert flush(server) == 1
