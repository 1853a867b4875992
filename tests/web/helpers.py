"""Small helpers shared by the web tests (forms, the database's view of a person)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from altcha import Challenge, Payload, solve_challenge
from sqlalchemy import Engine, insert, select

from pipeline.clock import FixedClock
from pipeline.config import Settings
from pipeline.render.personalise import compile_edition
from pipeline.sending.editions import store_edition, transition
from pipeline.store.tables import deliveries, lists, subscribers, subscriptions
from pipeline.subscribers import service
from pipeline.web.app import create_app
from tests.conftest import free_port
from tests.web.conftest import EASY_ALTCHA, Server, csrf_from, serve


def solve_altcha(client: httpx.Client) -> str:
    """Fetch a proof-of-work challenge and solve it as the widget does (with the ``altcha``
    package's own solver), returning the form field's value."""
    challenge = Challenge.from_dict(client.get("/altcha/challenge").json())
    solution = solve_challenge(challenge)
    assert solution is not None
    return Payload(challenge, solution).to_base64()


def signup(client: httpx.Client, email: str, **fields: Any) -> httpx.Response:
    """Fill and send the signup form like a browser would (CSRF cookie and token, and the
    solved proof of work)."""
    form_page = client.get("/subscribe")
    assert form_page.status_code == 200
    data: dict[str, Any] = {
        "altcha": solve_altcha(client),
        "csrf_token": csrf_from(form_page.text),
        "email": email,
        "name": "",
        "lists": ["beauty-tips"],
        "consent": "yes",
        "website": "",
    }
    data.update(fields)
    return client.post("/subscribe", data=data)


def confirm_link(client: httpx.Client, url: str) -> httpx.Response:
    """Open a confirmation link and press its button, like a person would. The page itself
    must change nothing (mail scanners open links); the POST confirms."""
    shown = client.get(url)
    if shown.status_code != 200:
        return shown
    assert "Confirm my subscription" in shown.text
    return client.post(url, data={"csrf_token": csrf_from(shown.text)})


def person(engine: Engine, email: str) -> dict[str, Any]:
    """status and {list slug: subscription row} of one address."""
    with engine.connect() as conn:
        row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
        if row is None:
            return {}
        subs = conn.execute(
            select(lists.c.slug, subscriptions)
            .join(lists, lists.c.id == subscriptions.c.list_id)
            .where(subscriptions.c.subscriber_id == row.id)
        ).all()
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "lists": {s.slug: s for s in subs},
    }


@contextmanager
def other_server(
    make_settings: Callable[..., Settings],
    db_url: str,
    engine: Engine,
    env: Any = None,  # dict[str, str]; Any so that **overrides of any type type-check
    **overrides: Any,
) -> Iterator[Server]:
    """A second server with other settings (its own port) on the same test database."""
    port = free_port()
    settings = make_settings(
        env=env,
        **{
            "database.url": db_url,
            "newsletter.base_url": f"http://127.0.0.1:{port}",
            **EASY_ALTCHA,
            **overrides,
        },
    )
    clock = FixedClock()
    app = create_app(settings, engine=engine, clock=clock)
    with serve(app, port) as url:
        yield Server(url, app, settings, engine, clock)


def sent_edition(engine: Engine, slug: str = "2026-12-01-test", web_html: str = "") -> int:
    """A sent edition (as the sending stage leaves it), without sending anything."""
    compiled = compile_edition(f"Issue {slug}", "<p>Hello</p>", "Hello")
    edition_id = store_edition(
        engine, slug, compiled, lists=["beauty-tips"], content_hash="0" * 64, web_html=web_html
    )
    assert transition(engine, edition_id, ["frozen"], "sent")
    return edition_id


def delivered_to(engine: Engine, edition_id: int, email: str) -> tuple[int, int]:
    """(subscriber id, delivery id) of a sent delivery to ``email``."""
    sub = service.add_subscriber(engine, email, lists=["beauty-tips"], method="cli", confirmed=True)
    assert sub.subscriber_id is not None
    with engine.begin() as conn:
        row = conn.execute(
            insert(deliveries).values(
                edition_id=edition_id, subscriber_id=sub.subscriber_id, email=email, status="sent"
            )
        ).inserted_primary_key
    assert row is not None
    return sub.subscriber_id, int(row[0])
