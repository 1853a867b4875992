"""The fields of the beauty blocks: ``product``, ``routine`` and ``expert-tip`` articles.

    kind: product       products: a list of {name, brand, shade, size, price, note,
                        image, image_alt, link}; several in a row on desktop, stacked on
                        phones, each with a "Shop" button to its ``link``
    kind: routine       steps: a list of {when, text, product}; steps are numbered within
                        each ``when`` (e.g. AM / PM, Before / After)
    kind: expert-tip    expert, expert_title, photo, photo_alt; the body is the quote

Every error names the file and the line of the item, e.g.
``issues/x/articles/03-picks.md:9: product 2 has no 'name'``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pipeline.content.frontmatter import FrontMatter, text_value
from pipeline.errors import ContentError

PRODUCT_KEYS: tuple[str, ...] = (
    "name",
    "brand",
    "shade",
    "size",
    "price",
    "note",
    "image",
    "image_alt",
    "link",
)
STEP_KEYS: tuple[str, ...] = ("when", "text", "product")

#: Front-matter keys each kind adds to the common article keys.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "article": (),
    "tips": (),
    "product": ("products",),
    "routine": ("steps",),
    "expert-tip": ("expert", "expert_title", "photo", "photo_alt"),
}
MAX_PRODUCTS = 12
NOTE_MAX = 200


@dataclass(frozen=True)
class Product:
    name: str
    link: str = ""
    brand: str = ""
    shade: str = ""
    size: str = ""
    price: str = ""
    note: str = ""
    image: str = ""
    image_alt: str = ""
    line: int = 1


@dataclass(frozen=True)
class RoutineStep:
    text: str
    when: str = ""
    product: str = ""
    line: int = 1


@dataclass(frozen=True)
class Expert:
    name: str
    title: str = ""
    photo: str = ""
    photo_alt: str = ""
    line: int = 1


def _items(front: FrontMatter, key: str, label: str, what: str) -> list[tuple[dict[str, Any], int]]:
    value = front.data.get(key)
    line = front.lines.get(key, 1)
    if value is None or value == []:
        raise ContentError(
            f"a {what} block needs '{key}'",
            path=label,
            line=line,
            fix=f"add '{key}:' with one '- name: ...' item per line (see docs/design.md)",
        )
    if not isinstance(value, list):
        raise ContentError(
            f"'{key}' must be a list", path=label, line=line, fix="start each item with '- '"
        )
    lines = front.item_lines.get(key, [])
    out: list[tuple[dict[str, Any], int]] = []
    for i, item in enumerate(value):
        at = lines[i] if i < len(lines) else line
        if isinstance(item, str) and key == "steps":
            item = {"text": item}
        if not isinstance(item, dict):
            raise ContentError(
                f"{what} {i + 1} is not a set of 'key: value' fields",
                path=label,
                line=at,
                fix="indent its fields under the '- ', e.g. '- name: ...' then '  price: ...'",
            )
        out.append(({str(k): v for k, v in item.items()}, at))
    return out


def _field(item: dict[str, Any], key: str, label: str, line: int, what: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise ContentError(
            f"{what}: '{key}' must be text", path=label, line=line, fix=f"write '{key}: text'"
        )
    return str(value).strip()


def _check_item_keys(
    item: dict[str, Any], known: tuple[str, ...], label: str, line: int, what: str
) -> None:
    for key in item:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
            fix = f"did you mean '{near[0]}'?" if near else f"known fields: {', '.join(known)}"
            raise ContentError(f"{what}: unknown field '{key}'", path=label, line=line, fix=fix)


def load_products(front: FrontMatter, label: str) -> tuple[Product, ...]:
    items = _items(front, "products", label, "product")
    if len(items) > MAX_PRODUCTS:
        raise ContentError(
            f"{len(items)} products in one block; at most {MAX_PRODUCTS}",
            path=label,
            line=front.lines.get("products", 1),
            fix="split them into two product blocks",
        )
    products = []
    for number, (item, line) in enumerate(items, start=1):
        what = f"product {number}"
        _check_item_keys(item, PRODUCT_KEYS, label, line, what)
        values = {k: _field(item, k, label, line, what) for k in PRODUCT_KEYS}
        if not values["name"]:
            raise ContentError(
                f"{what} has no 'name'", path=label, line=line, fix="add '  name: ...' to it"
            )
        if values["image"] and not values["image_alt"]:
            raise ContentError(
                f"{what} has an image without 'image_alt'",
                path=label,
                line=line,
                fix="add '  image_alt: what the picture shows', for people who cannot see it",
            )
        if values["link"] and not values["link"].startswith(("https://", "http://")):
            raise ContentError(
                f"{what}: the link {values['link']!r} is not a web address",
                path=label,
                line=line,
                fix="write the shop's full address, starting with https://",
            )
        if len(values["note"]) > NOTE_MAX:
            raise ContentError(
                f"{what}: the note has {len(values['note'])} characters; at most {NOTE_MAX}",
                path=label,
                line=line,
                fix="keep the note to a sentence or two",
            )
        products.append(Product(line=line, **values))
    return tuple(products)


def load_steps(front: FrontMatter, label: str) -> tuple[RoutineStep, ...]:
    steps = []
    for number, (item, line) in enumerate(_items(front, "steps", label, "step"), start=1):
        what = f"step {number}"
        _check_item_keys(item, STEP_KEYS, label, line, what)
        values = {k: _field(item, k, label, line, what) for k in STEP_KEYS}
        if not values["text"]:
            raise ContentError(
                f"{what} has no 'text'", path=label, line=line, fix="add '  text: what to do'"
            )
        steps.append(RoutineStep(line=line, **values))
    return tuple(steps)


def load_expert(front: FrontMatter, label: str) -> Expert:
    name = text_value(front, "expert", label)
    if not name:
        raise ContentError(
            "an expert-tip block needs 'expert' (the expert's name)",
            path=label,
            line=1,
            fix="add 'expert: Their Name' and, if you like, 'expert_title: ...'",
        )
    photo = text_value(front, "photo", label)
    alt = text_value(front, "photo_alt", label)
    if photo and not alt:
        raise ContentError(
            "the expert's photo has no 'photo_alt'",
            path=label,
            line=front.lines.get("photo", 1),
            fix="add 'photo_alt: Portrait of ...', for people who cannot see it",
        )
    return Expert(
        name=name,
        title=text_value(front, "expert_title", label),
        photo=photo,
        photo_alt=alt,
        line=front.lines.get("expert", 1),
    )


def routine_groups(steps: tuple[RoutineStep, ...]) -> list[tuple[str, list[RoutineStep]]]:
    """Steps grouped by ``when`` in order of first appearance (numbered within a group)."""
    groups: dict[str, list[RoutineStep]] = {}
    for step in steps:
        groups.setdefault(step.when, []).append(step)
    return list(groups.items())
