"""Debian's Chromium, driven by the PyPI playwright package (which downloads no browser as
long as nobody runs `playwright install`)."""

from __future__ import annotations

import shutil

from playwright.sync_api import Browser, Playwright

# Root has no user namespaces for Chromium's sandbox in a container; /dev/shm is small there.
ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
INSTALL_HINT = "apt-get install chromium fonts-dejavu-core (./dev test installs them)"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch(playwright: Playwright, executable: str) -> Browser:
    return playwright.chromium.launch(executable_path=executable, args=ARGS)
