"""Browser fixtures: the app served on 127.0.0.1 from a thread, and Debian's Chromium driven by Playwright.

Never a downloaded browser: Playwright launches /usr/bin/chromium (scripts/bootstrap
test installs it with apt-get). Without it the browser tests skip, except in CI.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import unavailable

CHROMIUM = Path(os.environ.get("YIMA_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"Chromium is not installed at {CHROMIUM} (scripts/bootstrap test installs it)"
    if missing:
        unavailable(missing)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def live_server(app):
    """Serve the test app (fresh database) on a free port of 127.0.0.1; return its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) on a phone-sized window, pointed at the live server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, accept_downloads=True)
    context.set_default_timeout(15000)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
