"""Commands of the web stage.

newsletter serve [--host H] [--port P] [--workers N]
newsletter issue stats SLUG [--json]
"""

from __future__ import annotations

import os

import typer

from pipeline.cli.app import (
    JSON_OPTION,
    app,
    console,
    get_clock,
    get_engine,
    get_settings,
    issue_app,
    print_json,
)


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on ([web] host)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on ([web] port)."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Worker processes (rate limits are shared)."
    ),
) -> None:
    """Run the web app: signup, confirm, unsubscribe, preferences, archive, webhooks."""
    import uvicorn

    from pipeline.config import ENV_CONFIG
    from pipeline.subscribers.service import sync_lists
    from pipeline.web.app import create_app

    settings = get_settings()
    bind_host = host or settings.web.host
    bind_port = port or settings.web.port
    engine = get_engine()  # creates or upgrades the database once, before any worker
    sync_lists(engine, settings)  # so that workers starting together find nothing to add
    console.print(
        f"Serving {settings.newsletter.name} on http://{bind_host}:{bind_port} "
        f"(public address {settings.newsletter.base_url}); Ctrl+C stops.",
        markup=False,
    )
    if workers == 1:
        uvicorn.run(
            create_app(settings, engine=engine, clock=get_clock()),
            host=bind_host,
            port=bind_port,
            proxy_headers=False,  # the app reads X-Forwarded-For itself ([web] trusted_proxies)
            log_level="info",
        )
        return
    if settings.config_path is not None:
        os.environ[ENV_CONFIG] = str(settings.config_path.resolve())
    uvicorn.run(
        "pipeline.web.app:app_from_environment",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        proxy_headers=False,
        log_level="info",
    )


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


@issue_app.command("stats")
def stats(
    slug: str = typer.Argument(..., help="The issue's folder name (its slug)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Delivered, opens, clicks, bounces, complaints and unsubscribes of a sent issue."""
    from rich.table import Table

    from pipeline.sending.editions import get_edition
    from pipeline.web.stats import edition_stats

    edition = get_edition(get_engine(), slug)
    result = edition_stats(get_engine(), edition.id)
    if json_out:
        print_json(result.as_dict())
        return
    rates = result.rates
    table = Table(title=f"{result.slug}: {result.subject} ({result.status})")
    table.add_column("")
    table.add_column("Count", justify="right")
    table.add_column("Rate", justify="right")
    table.add_row("Sent", str(result.sent), "")
    table.add_row("Delivered", str(result.delivered), _pct(rates["delivered"]))
    table.add_row("Opens (unique)", str(result.opens), _pct(rates["opens"]))
    table.add_row("Clicks (unique)", str(result.clicks), _pct(rates["clicks"]))
    table.add_row("Bounces", str(result.bounces), _pct(rates["bounces"]))
    table.add_row("Complaints", str(result.complaints), _pct(rates["complaints"]))
    table.add_row("Unsubscribes", str(result.unsubscribes), _pct(rates["unsubscribes"]))
    console.print(table)
    base = "delivered" if result.base == "delivered" else "sent (no delivery events yet)"
    console.print(
        f"Rates of opens, clicks, complaints and unsubscribes are shares of messages {base}. "
        f"All opens: {result.total_opens}; all clicks: {result.total_clicks}.",
        markup=False,
        soft_wrap=True,
    )
