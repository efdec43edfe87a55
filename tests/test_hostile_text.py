"""A text that cannot be rendered within Span's limits is refused on the form with the reason,
nothing is saved, and rendering always happens before a save's first write (so the write lock
is never held while Markdown runs)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import event, update

from kb.db import db, utcnow
from kb.entries.content import current_content
from kb.entries.editing import new_entry, save_edit
from kb.models import Revision
from kb.rendering import RenderRefused
from tests.editor_support import Page, counts, entry_data, send
from tests.factories import make_entry
from tests.web import signed_in, summary_links

TOO_DEEP = "*" * 3_000 + "x" + "*" * 3_000
MESSAGE = "nested too deeply"


class Statements:
    """Every SQL statement the app's engine runs while recording."""

    def __init__(self, engine) -> None:
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)
        self.engine = engine

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        self.seen.append(statement.split(None, 1)[0].upper())

    def writes(self) -> list[str]:
        return [s for s in self.seen if s in {"INSERT", "UPDATE", "DELETE"}]

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


@pytest.fixture
def statements(catalogue_app):
    with catalogue_app.app_context():
        recorder = Statements(db.engine)
        yield recorder
        recorder.close()


def test_an_edit_renders_before_its_first_write(store, org, statements):
    entry = make_entry(store, org)
    store.commit()
    statements.seen.clear()
    content = replace(current_content(entry), body=TOO_DEEP)
    with pytest.raises(RenderRefused, match=MESSAGE):
        save_edit(store, entry, author=None, content=content, base=1, edit_summary="",
                  now=utcnow())  # fmt: skip
    assert statements.writes() == []


def test_a_new_entry_renders_before_its_first_write(store, org, statements):
    content = replace(current_content(make_entry(store, org)), body=TOO_DEEP)
    store.commit()
    statements.seen.clear()
    with pytest.raises(RenderRefused, match=MESSAGE):
        new_entry(store, organisation=org, author=None, kind="guidance", content=content,
                  status="draft", open_to_any_member=False, edit_summary="",
                  now=utcnow())  # fmt: skip
    assert statements.writes() == []


@pytest.mark.parametrize("action", ["draft", "preview"])
def test_the_form_explains_a_refused_text_and_keeps_it(catalogue_app, store, member, action):
    client = signed_in(catalogue_app, member)
    before = counts(store)
    response = send(client, "/entries/new?kind=guidance", entry_data(body=TOO_DEEP, action=action))
    # Saving a refused text is a form error; a preview shows the form again with the reason.
    assert response.status_code == {"draft": 400, "preview": 200}[action]
    assert MESSAGE in summary_links(response.text).get("body", "")
    assert Page(response.text).form("/entries/new")["body"] == TOO_DEEP
    assert 'class="preview"' not in response.text
    assert counts(store) == before


def test_an_edit_with_a_refused_text_changes_nothing(catalogue_app, store, org, member):
    entry = make_entry(store, org, status="draft")
    store.commit()
    client = signed_in(catalogue_app, member)
    before = counts(store)
    data = entry_data(body=TOO_DEEP, base_revision="1", title=entry.title)
    response = send(client, f"/entries/{entry.slug}/edit", data)
    assert response.status_code == 400
    assert MESSAGE in summary_links(response.text)["body"]
    assert counts(store) == before
    store.refresh(entry)
    assert entry.current_revision_number == 1


def test_reverting_to_a_text_now_refused_explains_and_changes_nothing(
    catalogue_app, store, org, member
):
    """A revision saved before the limits existed: reverting to it says why it cannot."""
    entry = make_entry(store, org, status="draft")
    content = replace(current_content(entry), body="## Context\n\nNewer text.")
    save_edit(store, entry, author=None, content=content, base=1, edit_summary="", now=utcnow())
    store.execute(
        update(Revision.__table__)  # past the ORM's append-only guard, as an old save would be
        .where(Revision.entry_id == entry.id, Revision.number == 1)
        .values(body=TOO_DEEP)
    )
    store.commit()
    client = signed_in(catalogue_app, member)
    before = counts(store)
    response = send(client, f"/entries/{entry.slug}/revert/1", {"base_revision": "2"})
    assert response.status_code == 400
    assert "Nothing was reverted" in response.text and MESSAGE in response.text
    assert counts(store) == before
