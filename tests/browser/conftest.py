"""Headless Chromium for browser tests: the Debian ``chromium`` package driven by Python Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (installed by
``scripts/install-system-packages.sh`` when missing) with networking features that phone home turned
off, so a test sees only the requests the page under test makes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium(repo: Path) -> Path:
    if not CHROMIUM.exists():
        script = repo / "scripts" / "install-system-packages.sh"
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(f"cannot install chromium with {script}: {result.stderr.strip()[-500:]}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(repo_root: Path) -> Iterator:
    """A Playwright ``Browser`` on the system Chromium, shared by the session."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium(repo_root)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
