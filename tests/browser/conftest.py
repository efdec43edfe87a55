"""Browser fixtures: the app served on a loopback port, and real Chromium through Playwright.

Without Chromium the browser tests skip with the reason, unless KB_REQUIRE_BROWSER=1 (as in
CI), where they fail instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import dispose, make_app
from tests.databases import Template

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


def serve(catalogue_db: Template, tmp_path_factory) -> Iterator[Live]:
    """The seeded app on a loopback port, on its own copy of the catalogue database."""
    folder = tmp_path_factory.mktemp("live")
    url = catalogue_db.copy(folder / "instance")
    app = make_app(folder / "instance", url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Live(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    thread.join(timeout=5)
    dispose(app)
    catalogue_db.drop(url)


@pytest.fixture(scope="session")
def live_server(catalogue_db, tmp_path_factory) -> Iterator[str]:
    """The seeded app on 127.0.0.1 and a free port, for the whole session."""
    for live in serve(catalogue_db, tmp_path_factory):
        yield live.url


AXE = Axe()


@pytest.fixture
def open_page(browser):
    """Opens pages at a given viewport, each in a context of its own, closed after the test."""
    contexts = []

    def opener(viewport: dict):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


def box(page, selector: str) -> dict:
    """Where the first element matching ``selector`` is drawn."""
    return page.locator(selector).first.bounding_box()


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page, each described with rule, impact and targets."""
    found = []
    for violation in AXE.run(page).response["violations"]:
        nodes = [f"{' '.join(n['target'])} {n['html'][:90]}" for n in violation["nodes"][:4]]
        found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {nodes}")
    return found


FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1'])"
# Everything Tab should reach: one tab stop per radio group (arrow keys move within it, as the
# platform defines), nothing hidden or without a box.
LABEL_FOCUSABLES = f"""() => {{
  const tabStop = el => {{
    if (el.type !== 'radio') return true;
    const group = [...el.form.elements].filter(r => r.type === 'radio' && r.name === el.name);
    return el === (group.find(r => r.checked) || group[0]);
  }};
  const items = [...document.querySelectorAll("{FOCUSABLE}")].filter(el => {{
    const style = getComputedStyle(el);
    return !el.disabled && style.visibility !== 'hidden' && style.display !== 'none'
      && el.getClientRects().length > 0 && tabStop(el);
  }});
  items.forEach((el, i) => el.dataset.kbFocus = String(i));
  return items.length;
}}"""
FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  const ring = style.boxShadow && style.boxShadow !== 'none';
  return {id: el.dataset.kbFocus ?? null, visible: outline || ring, tag: el.tagName,
          name: el.id || el.name || (el.innerText || '').slice(0, 40)};
}"""


def tab_through(page) -> tuple[int, set, list]:
    """Press Tab through the page: (focusable count, ids reached, states without visible focus)."""
    # Until the stylesheet has loaded, focus shows only the browser's thin default ring.
    page.wait_for_load_state("load")
    total = page.evaluate(LABEL_FOCUSABLES)
    reached, invisible, previous = set(), [], None
    for _ in range(total + 20):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE)
        if state is not None and state["id"] == previous:
            continue  # Tab moves between the day, month and year of a date input
        if state is None or state["id"] in reached:
            break
        reached.add(state["id"])
        previous = state["id"]
        if not state["visible"] or state["id"] is None:
            invisible.append(state)
    return total, reached, invisible


def violations_at_every_width(page) -> list[str]:
    """axe-core violations on the page as it is, at each of WIDTHS (the layout reflows in
    place, so a state reached once is checked at every width)."""
    found = []
    for width in WIDTHS.values():
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("innerWidth") == width
        found += [f"{width}px {v}" for v in axe_violations(page)]
    return found
