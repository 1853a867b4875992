"""``newsletter bounces fetch``: read the bounce mailbox (run it from cron)."""

from __future__ import annotations

from dataclasses import asdict

from pipeline.cli.app import (
    JSON_OPTION,
    bounces_app,
    console,
    get_clock,
    get_engine,
    get_settings,
    print_json,
)


@bounces_app.command("fetch", short_help="Read the bounce mailbox: suppress bounces, unsubscribe.")
def fetch(as_json: bool = JSON_OPTION) -> None:
    """Read new messages in the bounce mailbox: suppress hard bounces (and soft ones past
    `bounces.soft_limit`), unsubscribe people who wrote to the unsubscribe address."""
    from pipeline.bounces.mailbox import fetch_bounces

    settings, engine = get_settings(), get_engine()
    report = fetch_bounces(settings, engine, now=get_clock().now())
    if as_json:
        print_json(asdict(report))
        return
    console.print(
        f"{report.messages} message(s): {report.hard} hard bounce(s), {report.soft} soft, "
        f"{report.unsubscribed} unsubscribe request(s); {report.suppressed} address(es) "
        f"suppressed; {report.duplicates} already processed; "
        f"{report.not_understood} not understood (left unread).",
        markup=False,
    )
    for problem in report.problems:
        console.print(f"  {problem}", markup=False)
