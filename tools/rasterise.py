"""Rasterise the SVG drawings (logo, social icons, issue pictures) to PNG with chromium.

    .venv/bin/python -m tools.rasterise brand/logo.svg:2 brand/social/*.svg:2 ...

Each ``file.svg[:scale]`` becomes ``file.png`` next to it, ``scale`` times its SVG size
(2 for images shown at half their pixels on high-density screens). Email clients do not
show SVG, so the emails use the PNGs; the SVGs stay the source (``make brand``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
_SIZE = re.compile(r'<svg[^>]*\bwidth="(\d+)"[^>]*\bheight="(\d+)"', re.S)


def rasterise(items: list[tuple[Path, float]]) -> list[Path]:
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless"])
        for svg, scale in items:
            found = _SIZE.search(svg.read_text(encoding="utf-8"))
            if found is None:
                raise SystemExit(f"{svg}: the <svg> element needs width and height")
            width, height = int(found.group(1)), int(found.group(2))
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=scale
            )
            page = context.new_page()
            page.goto(svg.resolve().as_uri())
            target = svg.with_suffix(".png")
            page.screenshot(path=str(target), omit_background=True)
            context.close()
            written.append(target)
        browser.close()
    return written


def main(argv: list[str]) -> None:
    items = []
    for arg in argv:
        name, _, scale = arg.partition(":")
        items.append((Path(name), float(scale or 1)))
    for path in rasterise(items):
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
