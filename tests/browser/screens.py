"""The README's screenshots, taken by the browser tests themselves over planted data, so
one command regenerates them: ``SCREENSHOTS=1 make browser-check``. Without SCREENSHOTS=1
nothing is written (CI leaves the committed pictures alone)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page

from tests.engine import ROOT

IMAGE_DIR = ROOT / "docs" / "img"


def wanted() -> bool:
    return os.environ.get("SCREENSHOTS") == "1"


def screenshot(page: Page, name: str, *, selector: str | None = None) -> Path | None:
    """A PNG at docs/img/<name>.png when SCREENSHOTS=1, of the whole page or of the element
    ``selector`` picks; its path, or None."""
    if not wanted():
        return None
    IMAGE_DIR.mkdir(parents=True, exist_ok=True)
    path = IMAGE_DIR / f"{name}.png"
    if selector:
        page.locator(selector).screenshot(path=str(path), animations="disabled")
    else:
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path
