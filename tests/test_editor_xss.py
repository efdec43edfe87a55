"""Every h5sc attack vector typed into the editor is stored as typed and never runs anywhere.

One entry is written through the real form, then edited once per vector (title, summary, body
and edit summary), so every vector passes through the editor, the entry page, its revision, a
diff and, at the end, the history.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from kb.models import Entry, Revision
from tests.editor_support import Page, entry_data, fresh, send, slug_from, textarea_value
from tests.test_rendering import (
    BAD_SCHEME,
    FORBIDDEN_ELEMENTS,
    INVISIBLE,
    URL_ATTRIBUTES,
    VECTORS,
)
from tests.web import signed_in

# The page's own controls; user text must never add any (see ``chrome``).
CHROME = {"form", "input", "button", "textarea", "select", "option", "meta", "link"}
ACTIVE_ATTRIBUTES = {"style", "formaction", "srcdoc", "xlink:href", "form", "http-equiv"}


def page_problems(page: Page) -> list[str]:
    """What in a whole page could run script: the checks of tests/test_rendering.py, except
    that the page's own forms, stylesheet and feed links are allowed when they stay on this
    site."""
    found = []
    for tag, attrs in page.elements:
        values = dict(attrs)
        own_script = tag == "script" and (values.get("src") or "").startswith("/static/js/")
        if tag in FORBIDDEN_ELEMENTS - CHROME and not own_script:  # the form's character count
            found.append(f"<{tag}>")
        if tag == "form" and not (values.get("action") or "").startswith("/"):
            found.append("<form> posting off the page's own routes")
        href = values.get("href") or ""
        on_site = href.startswith("/") and not href.startswith("//")
        feed = values.get("rel") == "alternate" and on_site and href.split("?")[0].endswith(".atom")
        if tag == "link" and not (href.startswith("/static/") or feed):
            found.append("<link> to somewhere other than the stylesheet or a feed")
        for name, value in attrs:
            if name.startswith("on") or name in ACTIVE_ATTRIBUTES:
                found.append(f"{tag}[{name}]")
            cleaned = INVISIBLE.sub("", value or "").lower()
            if name in URL_ATTRIBUTES and BAD_SCHEME.match(cleaned):
                found.append(f"{tag}[{name}]={cleaned[:30]}")
    return found


def chrome(page: Page) -> Counter:
    """How many of the page's own controls it has."""
    return Counter(tag for tag, _ in page.elements if tag in CHROME)


class FirstHeading(HTMLParser):
    """The text of the first <h1>, or None if any element appears inside it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: str | None = None
        self._open = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        if self._open:
            self.text, self._open = None, False
        elif tag == "h1" and self.text is None:
            self.text, self._open = "", True

    def handle_endtag(self, tag):
        if tag == "h1":
            self._open = False

    def handle_data(self, data):
        if self._open:
            self.text += data


def test_checks_catch_what_they_should():
    bad = (
        '<link rel=stylesheet href="//evil.example/x.css"><form action="javascript:x">'
        '<button formaction=/x>go</button><div style="x"><meta http-equiv=refresh>'
    )
    assert {
        "<link> to somewhere other than the stylesheet or a feed",
        "button[formaction]",
        "div[style]",
        "meta[http-equiv]",
        "form[action]=javascript:x",
    } <= set(page_problems(Page(bad)))
    assert page_problems(Page('<link rel=alternate href="//evil.example/feeds/x.atom">'))
    assert page_problems(Page('<link rel=alternate href="/feeds/recent.atom">')) == []
    assert page_problems(Page('<form action="/logout"><input name="a"></form>')) == []
    assert FirstHeading("<h1>a &lt;b&gt;</h1>").text == "a <b>"
    assert FirstHeading("<h1>a <b>x</b></h1>").text is None


def typed(vector: dict) -> dict:
    payload = vector["payload"]
    # The one-line fields take as much of the vector as their length limits allow.
    return {"title": payload[:200], "summary": payload[:300], "body": payload,
            "edit_summary": payload[:300]}  # fmt: skip


def stored(vector: dict) -> tuple[str, str, str, str]:
    """What the editor promises to keep: the text as typed, line endings made \\n, the one-line
    title and summary trimmed of surrounding space."""
    sent = typed(vector)
    return (
        sent["title"].strip(),
        sent["summary"].strip().replace("\r\n", "\n"),
        sent["body"].replace("\r\n", "\n"),
        sent["edit_summary"],
    )


@pytest.fixture
def written(catalogue_app, store, editor):
    """An entry with two harmless revisions, and the page structure each page has with them."""
    client = signed_in(catalogue_app, editor)
    new = entry_data(title="Harmless", action="publish", edit_summary="Harmless")
    slug = slug_from(send(client, "/entries/new?kind=guidance", new))
    form = Page(client.get(f"/entries/{slug}/edit").text).form("/edit")
    form["body"], form["action"] = "Harmless, again.", "save"
    assert send(client, f"/entries/{slug}/edit", form).status_code == 302
    pages = pages_of(slug, 2)
    return client, slug, {name: chrome(Page(client.get(url).text)) for name, url in pages.items()}


def pages_of(slug: str, number: int) -> dict[str, str]:
    return {
        "entry": f"/entries/{slug}",
        "revision": f"/entries/{slug}/revisions/{number}",
        "diff": f"/entries/{slug}/diff/{number - 1}/{number}",
        "editor": f"/entries/{slug}/edit",
    }


def test_every_vector_is_stored_as_typed_and_inert(store, written):
    client, slug, structure = written
    url = f"/entries/{slug}/edit"
    editor_page = Page(client.get(url).text)
    failures: list[str] = []
    for number, vector in enumerate(VECTORS, start=3):
        where = f"vector {vector['id']}"
        form = editor_page.form(url)
        for name, value in typed(vector).items():
            form[name] = value
        form["action"] = "save"
        response = send(client, url, form)
        if response.status_code != 302:
            failures.append(f"{where}: saving gave {response.status_code}")
            break
        fresh(store)
        revision = store.scalar(
            select(Revision).join(Entry).where(Entry.slug == slug, Revision.number == number)
        )
        saved = (revision.title, revision.summary, revision.body, revision.edit_summary)
        if saved != stored(vector):
            failures.append(f"{where}: stored {saved!r}")
        for name, address in pages_of(slug, number).items():
            html = client.get(address).text
            page = Page(html)
            if found := page_problems(page):
                failures.append(f"{where} on the {name} page: {found}")
            if chrome(page) != structure[name]:
                failures.append(f"{where} changed the {name} page's controls: {chrome(page)}")
            if name in ("entry", "revision") and FirstHeading(html).text != revision.title:
                failures.append(f"{where}: {name} heading is {FirstHeading(html).text!r}")
        editor_page = page  # the editor comes last: it holds the form for the next vector
        shown = editor_page.form(url)
        expected = (revision.title, *(textarea_value("\n" + text) for text in saved[1:3]))
        if (shown["title"], shown["summary"], shown["body"]) != expected:
            failures.append(f"{where}: the editor shows {shown!r}")
    history = Page(client.get(f"/entries/{slug}/history").text)
    failures += [f"history page: {problem}" for problem in page_problems(history)]
    revisions = len(VECTORS) + 2
    # A revert form for every revision but the current one, compare, and sign out.
    assert chrome(history)["form"] == (revisions - 1) + 3
    assert failures == []
