"""Screenshots of built pages at phone and desktop widths, light and dark, for looking at
a design change: ``python -m tools.screenshots var/build/SLUG/email.html OUTDIR``."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")


def main(page_path: str, out: str, widths: tuple[int, ...] = (375, 700)) -> None:
    target = Path(page_path)
    url = page_path if "://" in page_path else target.resolve().as_uri()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless"])
        for scheme in ("light", "dark"):
            for width in widths:
                context = browser.new_context(
                    viewport={"width": width, "height": 900}, color_scheme=scheme
                )
                page = context.new_page()
                page.goto(url)
                page.wait_for_load_state("load")
                shot = folder / f"{target.stem}-{width}-{scheme}.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"wrote {shot}")
                context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
