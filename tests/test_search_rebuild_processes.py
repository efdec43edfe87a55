"""A rebuild's two processes share the organisations' drafts indexes, each written by one of
them only; whatever either fails at, the old index stays live and the new folder goes.

The second process is spawned, so a test changes what it does by handing it another
function to run (``_help_failing_in_drafts`` below, imported afresh in that process).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal

import pytest
from sqlalchemy import select
from whoosh import index as whoosh_index

from kb.db import db
from kb.models import Entry
from kb.search import build as build_module
from kb.search.build import index_drafts, share_drafts
from kb.search.documents import drafts_by_place, drafts_place
from kb.search.folders import DRAFTS, PUBLIC
from kb.search.service import SearchRequest, search
from tests.search_support import edit, index_of

WORD = "zentrovial"  # in no sample entry


def _draft_in_every_organisation(app) -> dict[int, set[str]]:
    """Make the first and last entry of each organisation a draft holding ``WORD``, so
    drafts come from both halves of the entries; returns their ids by organisation."""
    session = app.extensions["kb.db"]()
    entries = session.scalars(select(Entry).order_by(Entry.id)).all()
    chosen: dict[int, list[Entry]] = {}
    for entry in entries:
        chosen.setdefault(entry.organisation_id, [entry, entry])[1] = entry
    drafts: dict[int, set[str]] = {}
    for organisation_id, pair in chosen.items():
        for entry in dict.fromkeys(pair):
            edit(session, entry, status="draft", title=f"{WORD.title()} {entry.title}")
            drafts.setdefault(organisation_id, set()).add(str(entry.id))
    session.commit()
    session.close()
    return drafts


def _found(app, drafts_of: int | None) -> set[str]:
    index, synonyms = index_of(app), app.extensions["kb.search.synonyms"]
    with app.app_context():
        session = app.extensions["kb.db"]()
        try:
            results = search(index, session, SearchRequest(WORD, drafts_of=drafts_of,
                                                           per_page=100), synonyms)  # fmt: skip
            return {str(hit.entry.id) for hit in results.hits}
        finally:
            session.close()


def test_every_organisations_drafts_are_searchable_by_its_members_after_two_processes(
    catalogue_app, monkeypatch
):
    monkeypatch.setattr(build_module, "PARALLEL_FROM", 2)
    drafts = _draft_in_every_organisation(catalogue_app)
    with catalogue_app.app_context(), db.engine.connect() as connection:
        parent, helper = share_drafts(drafts_by_place(connection))
    assert parent and helper  # both processes write some organisations' drafts
    report = index_of(catalogue_app).rebuild(procs=2)
    assert report.documents == len(catalogue_app.extensions["kb.db"]().scalars(
        select(Entry.id)).all())  # fmt: skip
    for organisation_id, expected in drafts.items():
        assert _found(catalogue_app, organisation_id) == expected, organisation_id
    assert _found(catalogue_app, None) == set()
    written = {f"{DRAFTS}/{path.name}" for path in (report.folder / DRAFTS).iterdir()}
    assert written == {drafts_place(organisation_id) for organisation_id in drafts}


def test_the_drafts_are_shared_out_by_organisation_and_count():
    drafts = {f"drafts/{n}": list(range(n * 100, n * 100 + size))
              for n, size in enumerate([9, 1, 1, 4, 3, 2, 2, 1, 1])}  # fmt: skip
    first, second = share_drafts(drafts)
    assert not set(first) & set(second)
    assert {**first, **second} == drafts
    sizes = [sum(map(len, share.values())) for share in (first, second)]
    assert sizes == [12, 12]
    assert share_drafts({}) == ({}, {})
    assert share_drafts({"drafts/1": [5]}) == ({"drafts/1": [5]}, {})  # the first process's


def test_a_draft_published_or_moved_after_it_was_listed_is_left_to_the_catch_up(
    catalogue_app, tmp_path
):
    session = catalogue_app.extensions["kb.db"]()
    entries = session.scalars(select(Entry).order_by(Entry.id)).all()
    stays = entries[0]
    published = entries[1]
    moved = next(e for e in entries[2:] if e.organisation_id != stays.organisation_id)
    for entry in (stays, published, moved):
        edit(session, entry, status="draft")
    session.commit()
    with catalogue_app.app_context(), db.engine.connect() as connection:
        listed = drafts_by_place(connection)
        # Meanwhile, one is published and another moves to the first one's organisation
        # (whose index the other process may be writing).
        edit(session, published, status="published")
        moved.organisation_id = stays.organisation_id
        session.commit()
        index_drafts(connection, tmp_path / "new", listed)
    session.close()
    written = {}
    for path in (tmp_path / "new").glob(f"{DRAFTS}/*"):
        with whoosh_index.open_dir(str(path)).searcher() as searcher:
            written[path.name] = {fields["id"] for fields in searcher.all_stored_fields()}
    assert written == {str(stays.organisation_id): {str(stays.id)}}
    assert [path.name for path in (tmp_path / "new").iterdir()] == [DRAFTS]


def _help_failing_in_drafts(how: str, *args) -> None:
    """The second process's work, failing (or killed) after writing its first drafts index."""
    real = build_module.index_drafts

    def failing(connection, folder, drafts):
        real(connection, folder, dict(list(drafts.items())[:1]))
        if how == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError("No space left on device")

    build_module.index_drafts = failing
    build_module._help(*args)


@pytest.mark.parametrize("how", ["fails", "killed"])
def test_the_second_process_failing_in_the_drafts_leaves_the_old_index_live(
    catalogue_app, monkeypatch, how
):
    monkeypatch.setattr(build_module, "PARALLEL_FROM", 2)
    drafts = _draft_in_every_organisation(catalogue_app)
    index = index_of(catalogue_app)
    index.rebuild()
    live, folders = index.live_folder(), sorted(index.root.glob("index-*"))
    before = {organisation_id: _found(catalogue_app, organisation_id) for organisation_id in drafts}
    assert all(before.values())
    monkeypatch.setattr(build_module, "_help", functools.partial(_help_failing_in_drafts, how))
    with pytest.raises(RuntimeError, match="second indexing process failed"):
        index.rebuild(procs=2)
    assert index.live_folder() == live
    assert sorted(index.root.glob("index-*")) == folders  # the new one is gone
    assert (live / PUBLIC).is_dir()
    assert {o: _found(catalogue_app, o) for o in drafts} == before


def test_this_process_failing_in_the_drafts_stops_the_second_and_leaves_the_old_index_live(
    catalogue_app, monkeypatch
):
    monkeypatch.setattr(build_module, "PARALLEL_FROM", 2)
    _draft_in_every_organisation(catalogue_app)
    index = index_of(catalogue_app)
    live, folders = index.live_folder(), sorted(index.root.glob("index-*"))

    def failing(connection, folder, drafts):
        raise OSError("No space left on device")

    monkeypatch.setattr(build_module, "index_drafts", failing)  # here only: the other is spawned
    with pytest.raises(OSError, match="No space left"):
        index.rebuild(procs=2)
    assert multiprocessing.active_children() == []
    assert index.live_folder() == live
    assert sorted(index.root.glob("index-*")) == folders
