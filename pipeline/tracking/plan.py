"""What to track for an edition (settings, its lists, the issue) and for one recipient.

The recipient's values are two URLs built on one signed token (purpose ``track``: the
subscriber's random ``public_id``, never the row id, and the edition), so personalisation
still only joins chunks: ``click_base`` = ``{base_url}/l/{token}`` (a tracked link appends
``/{index}``) and ``open_url`` = ``{base_url}/o/{token}.gif``. A subscriber who turned
tracking off gets neither, hence direct links and no pixel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from pipeline.config import Settings
from pipeline.render.personalise import CompiledEdition
from pipeline.tokens import Signer, signer
from pipeline.tracking.links import Link, TrackingPlan, track_edition


def edition_plan(
    settings: Settings,
    slug: str,
    lists: Sequence[str],
    utm: Mapping[str, str] | None = None,
) -> TrackingPlan:
    """The tracking plan for an edition of ``slug`` sent to ``lists``: ``[tracking]``,
    narrowed by any list that turns opens or clicks off; ``utm`` (from the issue's front
    matter) overrides the newsletter's UTM values."""
    cfg = settings.tracking
    chosen = [found for s in lists if (found := settings.list_named(s)) is not None]
    opens = cfg.opens and all(item.track_opens for item in chosen)
    clicks = cfg.clicks and all(item.track_clicks for item in chosen)
    tags: dict[str, str] | None = None
    if cfg.utm or utm:
        tags = {
            "utm_source": cfg.utm_source,
            "utm_medium": cfg.utm_medium,
            "utm_campaign": cfg.utm_campaign.replace("{slug}", slug),
        }
        tags.update({k: v for k, v in (utm or {}).items() if k in tags})
    return TrackingPlan(
        base_url=settings.newsletter.base_url,
        clicks=clicks,
        opens=opens,
        text_clicks=cfg.text_clicks,
        honeypot=cfg.honeypot,
        utm=tags,
    )


def index_links(
    settings: Settings,
    compiled: CompiledEdition,
    slug: str,
    lists: Sequence[str],
    utm: Mapping[str, str] | None = None,
) -> tuple[CompiledEdition, list[Link]]:
    """The edition as it is frozen: tracked links, honeypot and pixel as the plan says (the
    same edition, and no links, when nothing is tracked; UTM tags are added either way)."""
    plan = edition_plan(settings, slug, lists, utm)
    if not (plan.clicks or plan.opens or plan.utm):
        return compiled, []
    return track_edition(compiled, plan)


def tracking_values(settings: Settings, public_id: str, edition_id: int) -> dict[str, str]:
    """``click_base`` and ``open_url`` for one recipient of an edition (one HMAC; the
    subscriber's ``public_id`` is already in the claimed row: no query)."""
    sign, click, open_ = _tracking_parts(
        settings.secrets.secret_key, settings.newsletter.base_url, edition_id
    )
    token = sign(public_id)
    return {"click_base": click + token, "open_url": f"{open_}{token}.gif"}


@lru_cache(maxsize=64)
def _tracking_parts(secret: str, base_url: str, edition_id: int) -> tuple[Signer, str, str]:
    """An edition's track signer and URL prefixes, made once per process."""
    return signer(secret, "track", edition_id), f"{base_url}/l/", f"{base_url}/o/"
