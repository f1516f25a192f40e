"""Take the README's screenshots of the search page with Debian's Chromium.

Usage: python scripts/screenshot.py http://127.0.0.1:8000   (a running `make run`)
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parents[1] / "docs"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main(base: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for name, viewport in (("results.png", (1100, 1000)), ("results-phone.png", (390, 844))):
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.goto(f"{base}/?q=lang+son")
            page.screenshot(path=str(DOCS / name))
            page.close()
        browser.close()
    print(f"wrote {DOCS}/results.png and results-phone.png")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
