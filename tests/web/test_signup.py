"""Signup with double opt-in over real HTTP: consent, emails, no enumeration, bots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.subscribers import service
from tests.web.conftest import Server, html_of, link_in, mails, text_of
from tests.web.helpers import (
    confirm_link,
    other_server,
    person,
    sent_edition,
    signup,
    solve_altcha,
)
from tests.web.tracking_helpers import send_issue
from tests.web.tracking_helpers import shop as tracking_shop

CONSENT = (
    "Yes, send me Glow Notes by email. I can unsubscribe at any time with the link in every email."
)
ALMOST = (
    "Almost done: we have sent you an email. Please open the link in it to confirm your "
    "subscription (it works for 7 days)."
)


def test_form_signup_records_consent_and_the_link_confirms(server: Server) -> None:
    with server.client() as client:
        answer = signup(client, "Ann.Lee@Example.com", name="Ann Lee")
        assert answer.status_code == 200
        assert ALMOST in answer.text

        ann = person(server.engine, "ann.lee@example.com")
        sub = ann["lists"]["beauty-tips"]
        assert ann["name"] == "Ann Lee"
        assert sub.status == "unconfirmed"
        assert sub.consent_text == CONSENT
        assert sub.consent_ip == "127.0.0.1"
        assert sub.consent_method == "web"
        assert sub.consent_at == server.clock.now()
        assert "news" not in ann["lists"]

        [confirm] = mails(server.settings, "Please confirm", to="ann.lee@example.com")
        assert "Hi Ann," in text_of(confirm)
        # Not subscribed yet: no unsubscribe link, no web version, and the footer says why.
        for part in (text_of(confirm), html_of(confirm)):
            assert "Until you confirm, you are not subscribed" in part
            assert "/unsubscribe/" not in part and "View this email" not in part
        url = link_in(confirm, "/confirm/")
        assert url.startswith(server.url + "/confirm/")
        done = confirm_link(client, url)
        assert done.status_code == 200
        assert "You're subscribed" in done.text
        assert "Beauty tips" in done.text

    confirmed = person(server.engine, "ann.lee@example.com")["lists"]["beauty-tips"]
    assert confirmed.status == "confirmed"
    assert confirmed.confirm_ip == "127.0.0.1"
    [welcome] = mails(server.settings, "Welcome to Glow Notes", to="ann.lee@example.com")
    assert "The first issue is on its way." in text_of(welcome)
    assert "/preferences/" in text_of(welcome)
    assert "/unsubscribe/" in html_of(welcome)
    assert "View this email" not in html_of(welcome)


def test_new_known_and_suppressed_addresses_get_the_same_answer(server: Server) -> None:
    service.add_subscriber(
        server.engine, "known@example.com", lists=["beauty-tips"], method="cli", confirmed=True
    )
    service.suppress(server.engine, "angry@example.com", "complained")
    with server.client() as client:
        answers = [
            signup(client, address).text
            for address in ("new@example.com", "known@example.com", "angry@example.com")
        ]
    assert answers[0] == answers[1] == answers[2]
    assert ALMOST in answers[0]
    # the known subscriber was already confirmed: nothing to confirm, nothing sent
    assert mails(server.settings, "Please confirm", to="known@example.com") == []
    assert mails(server.settings, "Please confirm", to="angry@example.com") == []
    assert len(mails(server.settings, "Please confirm", to="new@example.com")) == 1


def test_the_public_form_never_renames_a_known_subscriber(server: Server) -> None:
    service.add_subscriber(
        server.engine, "bea@example.com", name="Bea", lists=["news"], method="cli", confirmed=True
    )
    with server.client() as client:
        signup(client, "bea@example.com", name="Mallory")
    assert person(server.engine, "bea@example.com")["name"] == "Bea"


def test_json_signup_for_a_site_s_own_form(server: Server) -> None:
    with server.client() as client:
        ok = client.post(
            "/subscribe",
            json={
                "email": "cara@example.com",
                "lists": ["news"],
                "consent": True,
                "name": "Cara",
                "altcha": solve_altcha(client),
            },
        )
        assert ok.status_code == 202
        assert ok.json() == {"status": "ok", "message": ALMOST}
        assert "set-cookie" not in ok.headers

        bad = client.post(
            "/subscribe",
            json={"email": "nope", "lists": [], "consent": False, "altcha": solve_altcha(client)},
        )
        assert bad.status_code == 422
        assert bad.json() == {
            "error": "Please check the form.",
            "fields": {
                "email": "Please enter your email address, like you@example.com.",
                "lists": "Please choose at least one list.",
                "consent": "Please tick the box to agree to receive our emails.",
            },
        }
        broken = client.post(
            "/subscribe", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 400
        assert broken.json() == {"error": "The form could not be read. Please try again."}
    assert person(server.engine, "cara@example.com")["lists"]["news"].status == "unconfirmed"


def test_form_errors_are_shown_next_to_the_fields(server: Server) -> None:
    with server.client() as client:
        answer = signup(client, "dee@example.com", consent="", lists=[])
    assert answer.status_code == 422
    assert "Please tick the box to agree to receive our emails." in answer.text
    assert "Please choose at least one list." in answer.text
    assert 'value="dee@example.com"' in answer.text
    assert person(server.engine, "dee@example.com") == {}


def test_honeypot_answers_as_usual_and_does_nothing(server: Server) -> None:
    with server.client() as client:
        answer = signup(client, "bot@example.com", website="http://spam.example")
    assert answer.status_code == 200
    assert ALMOST in answer.text
    assert person(server.engine, "bot@example.com") == {}
    assert mails(server.settings, "Please confirm") == []


def test_csrf_token_missing_or_invalid_is_refused(server: Server) -> None:
    form = {"email": "eve@example.com", "lists": "news", "consent": "yes"}
    with server.client() as client:
        client.get("/subscribe")  # the cookie, but no token
        missing = client.post("/subscribe", data=form)
        forged = client.post("/subscribe", data={**form, "csrf_token": "abc.def.ghi"})
    with server.client() as other:  # a token from another visitor's page
        stolen = other.get("/subscribe").text.split('name="csrf_token" value="')[1].split('"')[0]
    with server.client() as client:
        client.get("/subscribe")
        foreign = client.post("/subscribe", data={**form, "csrf_token": stolen})
    for answer in (missing, forged, foreign):
        assert answer.status_code == 403
        assert "This form had expired. Please check it and send it again." in answer.text
    assert person(server.engine, "eve@example.com") == {}


def test_rate_limit_per_ip_lives_in_the_database(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    limits: dict[str, Any] = {"web.signup_rate_limit": 2, "web.signup_rate_window": 3600}
    with other_server(make_settings, db_url, engine, **limits) as first:
        with first.client() as client:
            assert signup(client, "f1@example.com").status_code == 200
        with other_server(make_settings, db_url, engine, **limits) as second:
            with second.client() as client:  # another worker shares the count
                assert signup(client, "f2@example.com").status_code == 200
                third = signup(client, "f3@example.com")
                assert third.status_code == 429
                assert third.headers["retry-after"] == "3600"
                assert (
                    "Too many signups from your network. Please try again in 60 minutes."
                    in third.text
                )
                json_answer = client.post(
                    "/subscribe",
                    json={"email": "f4@example.com", "lists": ["news"], "consent": True},
                )
                assert json_answer.status_code == 429
                assert json_answer.json() == {
                    "error": "Too many signups from your network. Please try again in 60 minutes."
                }
            second.clock.advance(timedelta(hours=1))
            with second.client() as client:
                assert signup(client, "f5@example.com").status_code == 200
    assert person(engine, "f3@example.com") == {}
    assert person(engine, "f5@example.com") != {}


def test_forwarded_for_counts_only_from_a_trusted_proxy(
    make_settings: Callable[..., Settings], db_url: str, engine: Engine
) -> None:
    limits: dict[str, Any] = {"web.signup_rate_limit": 1}
    with other_server(make_settings, db_url, engine, **limits) as direct:
        with direct.client(headers={"X-Forwarded-For": "198.51.100.1"}) as client:
            assert signup(client, "g1@example.com").status_code == 200
        with direct.client(headers={"X-Forwarded-For": "198.51.100.2"}) as client:
            assert signup(client, "g2@example.com").status_code == 429  # header ignored
    proxied: dict[str, Any] = {**limits, "web.trusted_proxies": ["127.0.0.0/8"]}
    with other_server(make_settings, db_url, engine, **proxied) as behind:
        for n, client_ip in enumerate(["203.0.113.5", "203.0.113.6"]):
            headers = {"X-Forwarded-For": f"10.9.9.9, {client_ip}"}
            with behind.client(headers=headers) as client:
                assert signup(client, f"h{n}@example.com").status_code == 200
        with behind.client(headers={"X-Forwarded-For": "203.0.113.5"}) as client:
            assert signup(client, "h9@example.com").status_code == 429
    assert person(engine, "h0@example.com")["lists"]["beauty-tips"].consent_ip == "203.0.113.5"


def test_an_unsubscribed_address_gets_no_email_from_the_form(server: Server) -> None:
    """The form cannot be used to mail someone who left (no email bombing through it); the
    person comes back through the preferences link that only their mailbox holds."""
    sub = service.add_subscriber(
        server.engine, "ivy@example.com", lists=["news"], method="cli", confirmed=True
    )
    assert sub.subscriber_id is not None
    service.unsubscribe(server.engine, sub.subscriber_id, None, method="web")
    with server.client() as client:
        answer = signup(client, "ivy@example.com", lists=["news", "beauty-tips"])
        assert answer.status_code == 200 and ALMOST in answer.text
    assert person(server.engine, "ivy@example.com")["status"] == "unsubscribed"
    assert mails(server.settings, "Please confirm", to="ivy@example.com") == []


def test_a_damaged_confirmation_link_changes_nothing(server: Server) -> None:
    with server.client() as client:
        signup(client, "jo@example.com")
        [confirm] = mails(server.settings, "Please confirm", to="jo@example.com")
        url = link_in(confirm, "/confirm/")
        bad = client.get(url.replace("/confirm/", "/confirm/x"))
        assert bad.status_code == 400
        assert "Sorry, this link is not valid (copy the whole link from the email)." in bad.text
    assert person(server.engine, "jo@example.com")["lists"]["beauty-tips"].status == "unconfirmed"


def test_the_welcome_email_links_the_latest_issue(server: Server) -> None:
    sent_edition(server.engine, "2026-11-01-serums")
    with server.client() as client:
        signup(client, "kai@example.com", name="Kai")
        [confirm] = mails(server.settings, "Please confirm", to="kai@example.com")
        confirm_link(client, link_in(confirm, "/confirm/"))
    [welcome] = mails(server.settings, "Welcome to Glow Notes", to="kai@example.com")
    text = text_of(welcome)
    assert (
        'While you wait for the next one, here is the latest issue, "Issue 2026-11-01-serums":'
        in text
    )
    assert f"{server.url}/issues/2026-11-01-serums" in text
    assert "Hi Kai," in text


PHISH = "https://evil.example/verify-your-account"


def test_a_name_that_is_a_link_is_refused_by_the_form(server: Server) -> None:
    with server.client() as client:
        answer = signup(client, "phish@example.com", name=PHISH)
        as_json = client.post(
            "/subscribe",
            json={
                "email": "phish2@example.com",
                "lists": ["news"],
                "consent": True,
                "name": "Call evil.example now",
                "altcha": solve_altcha(client),
            },
        )
    assert answer.status_code == 422
    assert "Please write your name with letters only (no links or addresses)." in answer.text
    assert person(server.engine, "phish@example.com") == {}
    assert as_json.status_code == 422
    assert as_json.json()["fields"] == {
        "name": "Please write your name with letters only (no links or addresses)."
    }


def test_a_stored_name_that_is_a_link_is_never_the_greeting_nor_the_to_name(
    server: Server,
) -> None:
    """An import (or an older signup) stored such a name: the confirmation email and an
    issue greet with the neutral form and put no display name in To."""
    service.add_subscriber(
        server.engine,
        "old@example.com",
        name=PHISH,
        lists=["news"],
        method="import",
        confirmed=False,
    )
    with server.client() as client:
        assert signup(client, "old@example.com", lists=["news"]).status_code == 200
    [confirm] = mails(server.settings, "Please confirm", to="old@example.com")
    assert str(confirm["To"]) == "old@example.com"
    assert "Hi there," in text_of(confirm)
    assert "evil.example" not in text_of(confirm) and "evil.example" not in html_of(confirm)
    with tracking_shop() as shop_url:
        send_issue(server, shop_url, ["issue@example.com"], names={"issue@example.com": PHISH})
    [issue] = mails(server.settings, "Microneedling", to="issue@example.com")
    assert str(issue["To"]) == "issue@example.com"
    assert "Hi there," in text_of(issue)
    assert "evil.example" not in text_of(issue)
