"""One subscriber edited from the studio's form: name, lists, tags and fields at once,
each changed through the function that owns it (``service.set_name``/``set_lists``,
``tags``, ``profile.set_fields``), so the subscription log records each change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Engine

from pipeline.errors import SubscriberError
from pipeline.subscribers import service
from pipeline.subscribers.profile import set_fields
from pipeline.subscribers.tagnames import split_tags
from pipeline.subscribers.tags import tag_subscriber, untag_subscriber


def edit_subscriber(
    engine: Engine,
    public_id: str,
    *,
    name: str,
    lists: Sequence[str],
    tags: Sequence[str],
    fields: Mapping[str, str],
    method: str,
    ip: str | None = None,
) -> list[str]:
    """Make the subscriber's name, lists (confirmed), tags and fields these; a field whose
    value is empty is removed. Returns what changed (name, lists, tags, fields)."""
    info = service.get_subscriber(engine, public_id=public_id)
    if info is None:
        raise SubscriberError("no such subscriber", fix="search for the address again")
    changed: list[str] = []
    if name.strip() != info.name:
        service.set_name(engine, info.id, name)
        changed.append("name")
    held = sorted(slug for slug, status in info.subscriptions.items() if status == "confirmed")
    if sorted(set(lists)) != held:
        service.set_lists(engine, info.id, list(dict.fromkeys(lists)), method=method, ip=ip)
        changed.append("lists")
    wanted = set(split_tags(tags))
    add = sorted(wanted - set(info.tags))
    remove = sorted(set(info.tags) - wanted)
    if add:
        tag_subscriber(engine, info.email, add, method=method)
    if remove:
        untag_subscriber(engine, info.email, remove, method=method)
    if add or remove:
        changed.append("tags")
    current = {k: str(v) for k, v in (info.attributes or {}).items()}
    updates: dict[str, str | None] = {
        k: (v.strip() or None) for k, v in fields.items() if (v.strip() or None) != current.get(k)
    }
    if updates:
        set_fields(engine, info.id, updates, method=method)
        changed.append("fields")
    return changed
