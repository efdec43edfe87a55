"""Helpers for the editor tests: a browser-like page parser, signed-in clients and counts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from kb.models import Entry, Revision
from tests.factories import make_user


def textarea_value(raw: str) -> str:
    """What a browser puts in a textarea: line breaks normalised, one leading newline dropped."""
    value = raw.replace("\r\n", "\n").replace("\r", "\n")
    return value[1:] if value.startswith("\n") else value


class Page(HTMLParser):
    """A page as a browser sees it: its elements, their ids, and each form's controls with
    their values."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.ids: dict[str, str] = {}  # id -> tag
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._form: list | None = None
        self._text: tuple[str, list[str]] | None = None
        self._select: list | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))
        a = {name: value or "" for name, value in attrs}
        if "id" in a:
            self.ids[a["id"]] = tag
        if tag == "form":
            self._form = []
            self.forms.append((a.get("action", ""), self._form))
        elif self._form is None or "name" not in a and tag != "option":
            return
        elif tag == "input" and a.get("type", "text") not in {"submit", "button"}:
            if a.get("type") not in {"checkbox", "radio"} or "checked" in a:
                self._form.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._text = (a["name"], [])
        elif tag == "select":
            self._select = [a["name"], None, None]  # name, first option, selected option
        elif tag == "option" and self._select is not None:
            self._select[1] = a["value"] if self._select[1] is None else self._select[1]
            if "selected" in a:
                self._select[2] = a["value"]

    def handle_data(self, data):
        if self._text is not None:
            self._text[1].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._text is not None and self._form is not None:
            self._form.append((self._text[0], textarea_value("".join(self._text[1]))))
            self._text = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, first, selected = self._select
            self._form.append((name, selected if selected is not None else first))
            self._select = None
        elif tag == "form":
            self._form = None

    def forms_to(self, action_contains: str) -> list[MultiDict]:
        """What each form whose action contains ``action_contains`` would submit, in order."""
        found = [
            MultiDict(controls) for action, controls in self.forms if action_contains in action
        ]
        assert found, f"no form posting to {action_contains!r}"
        return found

    def form(self, action_contains: str) -> MultiDict:
        return self.forms_to(action_contains)[0]


def send(client, url: str, data) -> object:
    """POST ``data`` (a dict or MultiDict) with the client's CSRF token."""
    data = MultiDict(data)
    data["csrf_token"] = client.csrf
    return client.post(url, data=data)


def entry_data(**overrides) -> dict:
    return {
        "kind": "guidance", "title": "Answering questions on the night shift",
        "summary": "How we answered public questions overnight.", "channels": ["sms-text"],
        "body": "## Purpose\n\nAnswer questions *quickly*.\n", "licence": "OGL-UK-3.0",
        "edit_summary": "", "action": "draft", **overrides,
    }  # fmt: skip


def fresh(store) -> None:
    """Forget what ``store`` loaded, so the next query sees what requests committed."""
    store.rollback()
    store.expire_all()


def counts(store) -> tuple[int, int]:
    fresh(store)
    return tuple(store.scalar(select(func.count(m.id))) for m in (Entry, Revision))


def entry_by_slug(store, slug: str, *, refresh: bool = True) -> Entry:
    """The entry with ``slug``, which must exist. With ``refresh``, as requests have committed
    it (``store`` first forgets what it loaded, and anything it has not committed)."""
    if refresh:
        fresh(store)
    found = store.scalar(select(Entry).where(Entry.slug == slug))
    assert found is not None, slug
    return found


def revisions_of(store, entry: Entry) -> list[Revision]:
    fresh(store)
    query = select(Revision).where(Revision.entry_id == entry.id).order_by(Revision.number)
    return list(store.scalars(query))


def slug_from(response) -> str:
    assert response.status_code == 302, response.text[:2000]
    match = re.fullmatch(r"/entries/([^/]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def add_user(app, store, organisation, **fields):
    with app.app_context():  # hashing the password reads the app's settings
        user = make_user(store, organisation, **fields)
    store.commit()
    return user
