"""Debian's Chromium driven by Playwright, for the console's browser tests.

Nothing downloads a browser: the tests use the system's Chromium (``/usr/bin/chromium``, or
``RECSYS_CHROMIUM``), which `.ci/run` installs from the system's packages. Without it the
tests skip, except under CI (``RECSYS_REQUIRE_BROWSER=1``), where they fail instead. The
flags keep Chromium off the network (this machine's is closed) and out of a sandbox it cannot
have as root in a container.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ENV = "RECSYS_CHROMIUM"
REQUIRE_ENV = "RECSYS_REQUIRE_BROWSER"
SCREENSHOTS_ENV = "RECSYS_CONSOLE_SCREENSHOTS"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    return found if found and Path(found).exists() else None


@contextmanager
def system_chromium() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"the browser tests must run here: {message}")
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base: str, token: str, then: str = "/console") -> None:
    """Sign in through the form, as a person does, landing on ``then``."""
    page.goto(f"{base}{then}")
    page.wait_for_url(re.compile(r"/console/sign-in"))
    page.fill("#token", token)
    page.click("#sign-in")
    page.wait_for_url(re.compile(re.escape(then) + r"($|\?)"))


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """A full-page screenshot for the README, when ``RECSYS_CONSOLE_SCREENSHOTS`` names a
    folder (``docs/console``); the tests themselves never need one."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)
