"""Commands of the web stage.

newsletter serve [--host H] [--port P] [--workers N]
"""

from __future__ import annotations

import os

import typer

from pipeline.cli.app import (
    app,
    console,
    err_console,
    get_clock,
    get_engine,
    get_settings,
)
from pipeline.errors import NewsletterError


@app.command("serve", short_help="Run the web app: signup, unsubscribe, archive, webhooks.")
def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on ([web] host)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on ([web] port)."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        metavar="<int>",
        help="Worker processes (rate limits are shared).",
    ),
) -> None:
    """Run the web app: signup, confirm, unsubscribe, preferences, archive, webhooks."""
    import uvicorn

    from pipeline.config import ENV_CONFIG, secret_key_warning
    from pipeline.subscribers.service import sync_lists
    from pipeline.web.app import create_app

    settings = get_settings()
    warning = secret_key_warning(settings)
    if warning:
        err_console.print(warning, markup=False, soft_wrap=True)
    bind_host = host or settings.web.host
    bind_port = port or settings.web.port
    _check_free(bind_host, bind_port)
    engine = get_engine()  # creates or upgrades the database once, before any worker
    sync_lists(engine, settings)  # so that workers starting together find nothing to add
    console.print(
        f"Serving {settings.newsletter.name} on http://{bind_host}:{bind_port} "
        f"(public address {settings.newsletter.base_url}); Ctrl+C stops.",
        markup=False,
        soft_wrap=True,
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


def _check_free(host: str, port: int) -> None:
    """Refuse, with how to fix it, an address another program listens on (uvicorn would
    log its own error after the "Serving" line and exit with code 3)."""
    import socket

    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as exc:
        raise NewsletterError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            fix="stop the program using it, or choose another --port ([web] port)",
        ) from None


@app.command("embed", short_help="Print an HTML signup form to paste into another site.")
def embed(
    lists: str = typer.Option("", "--lists", help="Comma-separated list slugs (default: all)."),
) -> None:
    """Print an HTML signup form to paste into another site (see [web] embed_origins)."""
    from pipeline.subscribers.embed import embed_snippet

    settings = get_settings()
    chosen = [s.strip() for s in lists.split(",") if s.strip()] or None
    typer.echo(embed_snippet(settings, chosen), nl=False)
    if not settings.web.embed_origins:
        err_console.print(
            "Note: [web] embed_origins is empty, so no other site may use this form yet. "
            'Add the sites, e.g. embed_origins = ["https://www.example.com"].',
            markup=False,
        )
