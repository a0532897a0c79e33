"""Browser fixtures: the app served on a free port in a thread, and Debian's headless Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.helpers.admin import make_users
from tests.helpers.parts import missing

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake microphone, allowed without asking, for the recording test.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    try:
        from playwright import sync_api as playwright_api
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]'")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    # Plain http on 127.0.0.1: the browser would not send a Secure cookie back otherwise.
    return {**app_config, "COOKIE_SECURE": "0"}


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve the app on a free port in a thread; yield its base URL."""
    make_users(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1600, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.errors = errors
    yield tab
    context.close()
