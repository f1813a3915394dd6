"""Real Chromium for the page tests: Debian's build, headless, able to resolve nothing but loopback."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

CHROMIUM = (
    "/usr/bin/chromium"
    if os.path.exists("/usr/bin/chromium")
    else shutil.which("chromium") or shutil.which("chromium-browser")
)
NO_CHROMIUM = "Debian chromium is not installed (apt-get install chromium)"
LAUNCH_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # a page can reach nothing but loopback
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A launched headless Chromium (a playwright ``Browser``), closed on exit."""
    from playwright.async_api import async_playwright  # noqa: PLC0415 (only browser tests import playwright)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
