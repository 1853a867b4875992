"""The brand kit (``[brand]`` and ``[social]`` in newsletter.toml) for templates, and its
checks at build.

    brand_globals(settings)   -> {"brand": {...colours, fonts, logo...}, "social": [...]}
    brand_files(settings)     -> the files under brand/ the emails link (for local previews)
    check_brand(settings)     -> findings: text colours under WCAG AA (4.5:1) against their
                                 backgrounds, a logo that is missing, SVG, too heavy or too
                                 small, social icons that are missing

Relative brand files (``brand/logo.png``) are served by the web app at
``{base_url}/brand/...``, which is the address the emails use.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

from pipeline.config import CONFIG_NAME, Settings
from pipeline.render.checks import Finding
from pipeline.render.contrast import MINIMUM, contrast_ratio, parse_color

BRAND_DIR = "brand"
SOCIAL = (
    ("instagram", "Instagram"),
    ("tiktok", "TikTok"),
    ("pinterest", "Pinterest"),
    ("youtube", "YouTube"),
    ("website", "our website"),
)
EMAIL_IMAGES = (".png", ".jpg", ".jpeg", ".gif")
LOGO_MIN, LOGO_MAX = 80, 600  # pixels wide in the email
LOGO_MAX_BYTES = 150_000

#: (foreground, background, where the pair is used): every pair must reach 4.5:1.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("text", "surface", "body text on the cards"),
    ("muted", "surface", "summaries and captions on the cards"),
    ("accent", "surface", "headings and labels on the cards"),
    ("primary", "surface", "links on the cards"),
    ("text", "soft", "text in tips and routine boxes"),
    ("accent", "soft", "headings in tips and routine boxes"),
    ("muted", "background", "the footer"),
    ("button_text", "primary", "button labels"),
    ("button_text", "accent", "the signup band of the web version"),
    ("dark_text", "dark_surface", "body text in dark mode"),
    ("dark_muted", "dark_surface", "captions in dark mode"),
    ("dark_accent", "dark_surface", "headings and links in dark mode"),
    ("dark_text", "dark_soft", "boxes in dark mode"),
    ("dark_accent", "dark_soft", "box headings in dark mode"),
    ("dark_muted", "dark_background", "the footer in dark mode"),
)


def is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def brand_url(settings: Settings, value: str, base: str | None = None) -> str:
    """The address an email uses for a brand file (a URL is kept as it is); ``base=""``
    gives the site-relative path the web pages use."""
    if not value or is_url(value):
        return value
    prefix = settings.newsletter.base_url if base is None else base
    return f"{prefix}/{value.lstrip('/')}"


def logo_value(settings: Settings) -> str:
    """``brand.logo``, or the older ``newsletter.logo`` when only that is set."""
    return settings.brand.logo or settings.newsletter.logo


def social_links(settings: Settings, base: str | None = None) -> list[dict[str, str]]:
    links = []
    for key, label in SOCIAL:
        url = getattr(settings.social, key)
        if url:
            links.append(
                {
                    "key": key,
                    "label": label,
                    "url": url,
                    "icon_url": brand_url(settings, f"{BRAND_DIR}/social/{key}.png", base),
                    "alt": f"{settings.newsletter.name} on {label}"
                    if key != "website"
                    else f"The {settings.newsletter.name} website",
                }
            )
    return links


def brand_globals(settings: Settings, base: str | None = None) -> dict[str, Any]:
    """``brand`` and ``social`` for templates; URLs under ``base`` (default: base_url)."""
    b = settings.brand
    values = b.model_dump()
    values.update(
        logo_url=brand_url(settings, logo_value(settings), base),
        logo_alt=b.logo_alt or settings.newsletter.name,
        font_css_url=brand_url(settings, b.font_css, base),
        button_radius=b.button_radius,
    )
    return {"brand": values, "social": social_links(settings, base)}


def brand_files(settings: Settings) -> dict[str, Path]:
    """Relative path -> file, for every local brand file the emails link."""
    wanted = [logo_value(settings), settings.brand.font_css]
    wanted += [f"{BRAND_DIR}/social/{link['key']}.png" for link in social_links(settings)]
    found: dict[str, Path] = {}
    for rel in wanted:
        if rel and not is_url(rel):
            path = settings.path(rel)
            if path.is_file():
                found[rel.lstrip("/")] = path
    if settings.brand.font_css and not is_url(settings.brand.font_css):
        folder = settings.path(settings.brand.font_css).parent
        for font in folder.glob("*.woff2"):
            found[font.relative_to(settings.root).as_posix()] = font
    return found


def _line_of(settings: Settings, section: str, key: str) -> int | None:
    """The line of ``key`` under ``[section]`` in newsletter.toml (None when not there)."""
    path = settings.config_path
    if path is None or not path.is_file():
        return None
    current = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        header = re.match(r"\s*\[+\s*([A-Za-z0-9_.-]+)\s*\]+", line)
        if header:
            current = header.group(1)
        elif current == section and re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return None


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a PNG or GIF, from its header; None for other files."""
    head = path.read_bytes()[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    return None


def check_brand(settings: Settings) -> list[Finding]:
    """Problems of the brand kit, each naming newsletter.toml and the key's line."""
    shown = settings.config_path.name if settings.config_path else CONFIG_NAME
    b = settings.brand
    findings: list[Finding] = []

    def add(
        level: str, code: str, key: str, message: str, fix: str, section: str = "brand"
    ) -> None:
        line = _line_of(settings, section, key)
        findings.append(Finding(level, code, message, shown, line, fix))

    for fg, bg, where in PAIRS:
        a, z = parse_color(getattr(b, fg)), parse_color(getattr(b, bg))
        if a is None or z is None:  # pragma: no cover - the settings check the form
            continue
        ratio = contrast_ratio(a, z)
        if ratio < MINIMUM:
            add(
                "error",
                "brand-contrast",
                fg,
                f"brand.{fg} {getattr(b, fg)} on brand.{bg} {getattr(b, bg)} has a contrast"
                f" of {ratio:.2f}:1, under WCAG AA's {MINIMUM}:1 ({where})",
                f"make brand.{fg} darker or lighter against brand.{bg}",
            )

    logo = logo_value(settings)
    where = "brand" if b.logo else "newsletter"  # the older newsletter.logo still works
    if logo and not is_url(logo):
        path = settings.path(logo)
        if not logo.lstrip("/").startswith(f"{BRAND_DIR}/"):
            add(
                "error",
                "brand-logo",
                "logo",
                f"the logo {logo} is not under {BRAND_DIR}/",
                f"put it in {BRAND_DIR}/ (the web app serves that folder at /{BRAND_DIR}/)",
                where,
            )
        elif not path.is_file():
            add(
                "error",
                "brand-logo",
                "logo",
                f"the logo {logo} does not exist",
                "fix brand.logo, or draw it: see docs/design.md",
                where,
            )
        elif path.suffix.lower() not in EMAIL_IMAGES:
            add(
                "error",
                "brand-logo",
                "logo",
                f"the logo is {path.suffix} and email clients do not show that",
                "rasterise it to PNG (make brand) and point brand.logo at the .png",
                where,
            )
        else:
            size = path.stat().st_size
            if size > LOGO_MAX_BYTES:
                add(
                    "error",
                    "brand-logo",
                    "logo",
                    f"the logo weighs {size // 1000} KB (at most {LOGO_MAX_BYTES // 1000} KB)",
                    "export it smaller or with fewer colours",
                    where,
                )
            pixels = image_size(path)
            if pixels is not None and pixels[0] < b.logo_width:
                add(
                    "warning",
                    "brand-logo",
                    "logo_width",
                    f"the logo is {pixels[0]} px wide but shown at {b.logo_width} px: blurry",
                    f"export it at {2 * b.logo_width} px wide (twice, for sharp screens)",
                )
    if logo and not (LOGO_MIN <= b.logo_width <= LOGO_MAX):
        add(
            "error",
            "brand-logo",
            "logo_width",
            f"brand.logo_width is {b.logo_width} px; a logo reads well at {LOGO_MIN}-{LOGO_MAX}",
            "200 is a good start",
        )
    if logo and not (b.logo_alt or settings.newsletter.name).strip():
        add(
            "error",
            "brand-logo",
            "logo_alt",
            "the logo has no alt text",
            "set brand.logo_alt to the newsletter's name",
        )
    for link in social_links(settings):
        icon = settings.path(f"{BRAND_DIR}/social/{link['key']}.png")
        if not icon.is_file():
            add(
                "error",
                "social-icon",
                link["key"],
                f"no icon for {link['label']} ({BRAND_DIR}/social/{link['key']}.png)",
                "copy brand/social/ from the newsletter-pipeline repository",
                "social",
            )
    return findings
