"""Browser fixtures: the app served on a loopback port, and real Chromium through Playwright.

Without Chromium the browser tests skip with the reason, unless KB_REQUIRE_BROWSER=1 (as in
CI), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from flask import Flask
from werkzeug.serving import make_server

from kb.db import db
from tests.conftest import make_app

CHROMIUM = os.environ.get("KB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WIDTHS = {"desktop": 1280, "mobile": 375}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


def _need_browser(reason: str) -> None:
    if os.environ.get("KB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (KB_REQUIRE_BROWSER=1, so browser tests may not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        _need_browser(f"Chromium not found at {CHROMIUM}; set KB_CHROMIUM or install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extras always include it
        _need_browser("Playwright is not installed; run make test")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Live(NamedTuple):
    url: str
    app: Flask


def serve(catalogue_db: Path, tmp_path_factory) -> Iterator[Live]:
    """The seeded app on a loopback port, on its own copy of the catalogue database."""
    folder = tmp_path_factory.mktemp("live")
    database = folder / "kb.sqlite"
    shutil.copyfile(catalogue_db, database)
    app = make_app(folder, database)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Live(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(catalogue_db, tmp_path_factory) -> Iterator[str]:
    """The seeded app on 127.0.0.1 and a free port, for the whole session."""
    for live in serve(catalogue_db, tmp_path_factory):
        yield live.url
