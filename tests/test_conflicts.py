"""Edit conflicts: nobody's text is lost, merges when edits do not overlap, exactly one winner."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from kb.db import utcnow
from kb.entries.content import Content, current_content
from kb.entries.editing import EditConflict, save_edit
from kb.entries.merging import merge_content, merge_set, merge_text, merge_value
from kb.models import Entry, User
from tests.editor_support import Page, add_user, revisions_of, send
from tests.factories import make_entry
from tests.web import signed_in

URL = "/entries/shared-entry/edit"
BASE_BODY = "Para one.\n\nPara two.\n\nPara three.\n"
TRICKY = (
    "\nCafé — naïve “quotes”, 日本語 and 🚀 & &amp; &lt; <script>alert('x')</script>   \n"
    "\nPara two.\n\nA line with trailing spaces   \n<b>bold?</b> </textarea> done.  "
)


@pytest.fixture
def shared(store, org):
    entry = make_entry(store, org, slug="shared-entry", title="Shared entry", body=BASE_BODY)
    store.commit()
    return entry


@pytest.fixture
def other(catalogue_app, store, org):
    return add_user(catalogue_app, store, org, display_name="Olly Other")


def open_editor(client):
    return Page(client.get(URL).text).form(URL)


def save(client, form, **changes):
    for name, value in changes.items():
        if isinstance(value, list):
            form.setlist(name, value)
        else:
            form[name] = value
    form.setdefault("action", "save")
    return send(client, URL, form)


def your_version(html: str):
    """The editor form on a conflict page (the last form posting to the edit URL)."""
    return Page(html).forms_to(URL)[-1]


def section(html: str, start: str, end: str) -> str:
    return html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]


def test_stale_base_keeps_your_text_byte_for_byte(catalogue_app, store, member, other, shared):
    mine, theirs = signed_in(catalogue_app, member), signed_in(catalogue_app, other)
    my_form, their_form = open_editor(mine), open_editor(theirs)
    their_body = "Para one, edited meanwhile.\n\nPara two.\n\nPara three.\n"
    assert save(theirs, their_form, body=their_body, edit_summary="Their fix").status_code == 302
    response = save(mine, my_form, body=TRICKY, title="  My title & co  ", edit_summary="Mine")
    html = response.text
    assert response.status_code == 409
    assert "Someone else saved this entry while you were editing" in html
    assert "<script>alert" not in html
    kept = your_version(html)
    assert kept["body"] == TRICKY
    assert (kept["title"], kept["edit_summary"]) == ("  My title & co  ", "Mine")
    assert kept["base_revision"] == "2"
    meanwhile = section(html, "meanwhile-heading", "yours-heading")
    assert "Revision 2 by Olly Other" in meanwhile and "Their fix" in meanwhile
    assert '<ins><span class="visually-hidden">[added: </span>one, edited' in meanwhile
    assert [r.number for r in revisions_of(store, shared)] == [1, 2]


def test_edits_to_different_paragraphs_are_combined(catalogue_app, store, member, other, shared):
    mine, theirs = signed_in(catalogue_app, member), signed_in(catalogue_app, other)
    my_form, their_form = open_editor(mine), open_editor(theirs)
    their_body = "Para one, theirs.\n\nPara two.\n\nPara three.\n"
    assert save(theirs, their_form, body=their_body, channels=["x-twitter", "facebook"]).status_code
    my_body = "Para one.\n\nPara two.\n\nPara three, mine & <yours>.\n"
    response = save(mine, my_form, body=my_body, topics=["evaluation", "accessibility"])
    assert response.status_code == 409
    assert "Both edits combined" in response.text
    combined = Page(response.text).forms_to(URL)[0]
    assert combined["body"] == "Para one, theirs.\n\nPara two.\n\nPara three, mine & <yours>.\n"
    assert set(combined.getlist("channels")) == {"x-twitter", "facebook"}
    assert set(combined.getlist("topics")) == {"evaluation", "accessibility"}
    assert combined["base_revision"] == "2"
    assert your_version(response.text)["body"] == my_body

    assert save(mine, combined).status_code == 302
    revisions = revisions_of(store, shared)
    assert [r.number for r in revisions] == [1, 2, 3]
    assert revisions[-1].body == combined["body"] and revisions[-1].author_id == member.id
    assert revisions[-1].details["channels"] == ["facebook", "x-twitter"]
    assert revisions[-1].details["topics"] == ["accessibility", "evaluation"]


def test_edits_to_the_same_line_offer_no_merge(catalogue_app, store, member, other, shared):
    mine, theirs = signed_in(catalogue_app, member), signed_in(catalogue_app, other)
    my_form, their_form = open_editor(mine), open_editor(theirs)
    save(theirs, their_form, body="Para one, theirs.\n\nPara two.\n\nPara three.\n")
    my_body = "Para one, mine.\n\nPara two.\n\nPara three.\n"
    response = save(mine, my_form, body=my_body)
    assert response.status_code == 409
    assert "combined-heading" not in response.text and "Save the combined" not in response.text
    assert len(Page(response.text).forms_to(URL)) == 1
    assert your_version(response.text)["body"] == my_body
    assert len(revisions_of(store, shared)) == 2


def test_same_person_in_two_tabs_is_a_conflict(catalogue_app, store, member, shared):
    client = signed_in(catalogue_app, member)
    first_tab, second_tab = open_editor(client), open_editor(client)
    assert save(client, first_tab, body="From the first tab.\n").status_code == 302
    response = save(client, second_tab, body="From the second tab.\n")
    assert response.status_code == 409
    assert your_version(response.text)["body"] == "From the second tab.\n"
    assert [r.body for r in revisions_of(store, shared)] == [BASE_BODY, "From the first tab.\n"]


@pytest.mark.parametrize("base", [None, "", "abc", "99", "2", "-1", "0", "1.0", "9" * 30])
def test_bad_base_is_refused_clearly_with_text_kept(catalogue_app, store, member, shared, base):
    client = signed_in(catalogue_app, member)
    form = open_editor(client)
    if base is None:
        form.pop("base_revision")
    else:
        form["base_revision"] = base
    response = save(client, form, body=TRICKY)
    assert response.status_code == 400
    assert "Nothing you wrote has been lost" in response.text
    assert your_version(response.text)["body"] == TRICKY
    assert len(revisions_of(store, shared)) == 1


WRITERS = 20


def test_simultaneous_saves_have_exactly_one_winner(catalogue_app, store, org, shared):
    users = [
        add_user(catalogue_app, store, org, display_name=f"Writer {i}") for i in range(WRITERS)
    ]
    clients = [signed_in(catalogue_app, user) for user in users]
    bodies = [f"Writer {i} says: unique text {i * 7919} ✓ & <b>{i}</b>\n" for i in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)
    results: list = [None] * WRITERS

    def write(i: int) -> None:
        try:
            form = open_editor(clients[i])
            assert form["base_revision"] == "1"
            form["body"], form["action"] = bodies[i], "save"
            barrier.wait(timeout=60)
            response = send(clients[i], URL, form)
            results[i] = (response.status_code, response.text)
        except BaseException as error:  # reported below, with the thread's number
            barrier.abort()
            results[i] = error

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert time.monotonic() - started < 120
    errors = {i: r for i, r in enumerate(results) if not isinstance(r, tuple)}
    assert not errors, errors
    statuses = [status for status, _ in results]
    assert sorted(statuses) == [302] + [409] * (WRITERS - 1), statuses
    winner = statuses.index(302)

    revisions = revisions_of(store, shared)
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[1].body == bodies[winner] and revisions[1].author_id == users[winner].id
    lost = [
        i
        for i, (status, html) in enumerate(results)
        if status == 409 and your_version(html)["body"] != bodies[i]
    ]
    assert lost == []


# kb.entries.editing.save_edit: the conditional update ------------------------------------------


def test_save_edit_lets_only_one_of_two_sessions_on_a_base_win(
    catalogue_app, store, member, other, shared
):
    sessions = [catalogue_app.extensions["kb.db"]() for _ in range(2)]
    entries = [session.get(Entry, shared.id) for session in sessions]
    contents = [
        replace(current_content(e), body=f"Session {n} text.\n") for n, e in enumerate(entries)
    ]
    authors = [sessions[0].get(User, member.id), sessions[1].get(User, other.id)]

    def save_in(n: int):
        return save_edit(sessions[n], entries[n], author=authors[n], content=contents[n], base=1,
                         edit_summary=f"session {n}", now=utcnow())  # fmt: skip

    try:
        assert save_in(0).revision.number == 2
        sessions[0].commit()
        # The second session still believes the entry is at revision 1: only the
        # conditional UPDATE can notice that it moved on.
        assert entries[1].current_revision_number == 1
        with pytest.raises(EditConflict):
            save_in(1)
        sessions[1].rollback()
    finally:
        for session in sessions:
            session.close()
    revisions = revisions_of(store, shared)
    assert [(r.number, r.body, r.author_id) for r in revisions] == [
        (1, BASE_BODY, None), (2, "Session 0 text.\n", member.id),
    ]  # fmt: skip
    assert store.get(Entry, shared.id).current_revision_number == 2


def test_save_edit_of_unchanged_content_writes_nothing(catalogue_app, store, member, shared):
    entry = store.get(Entry, shared.id)
    author, content = store.get(User, member.id), current_content(entry)
    result = save_edit(
        store, entry, author=author, content=content, base=1, edit_summary="", now=utcnow()
    )
    store.commit()
    assert not result.changed and len(revisions_of(store, shared)) == 1


# kb.entries.merging ---------------------------------------------------------------------------


def test_merge_text_combines_changes_to_different_lines():
    base = "one\ntwo\nthree\nfour\n"
    assert merge_text(base, "ONE\ntwo\nthree\nfour\n", "one\ntwo\nthree\nFOUR\n") == (
        "ONE\ntwo\nthree\nFOUR\n"
    )
    assert merge_text(base, base, "one\ntwo\nthree\nfour\nfive\n") == base + "five\n"
    assert merge_text(base, "one\nTWO\nthree\nfour\n", "one\nTWO\nthree\nfour\n") == (
        "one\nTWO\nthree\nfour\n"
    )


def test_merge_text_refuses_different_changes_to_the_same_line():
    assert merge_text("one\ntwo\n", "one\nmine\n", "one\ntheirs\n") is None
    assert merge_text("one\n", "", "one changed\n") is None


@pytest.mark.parametrize(
    ("base", "mine", "theirs", "expected"),
    [
        ("a", "a", "a", ("a", True)),
        ("a", "b", "a", ("b", True)),
        ("a", "a", "c", ("c", True)),
        ("a", "b", "b", ("b", True)),
        ("a", "b", "c", (None, False)),
        (None, "x", None, ("x", True)),
    ],
)
def test_merge_value(base, mine, theirs, expected):
    assert merge_value(base, mine, theirs) == expected


def test_merge_set_keeps_both_sides_additions_and_removals():
    assert merge_set(("a", "b"), ("a", "b", "c"), ("a", "b", "d")) == ("a", "b", "c", "d")
    assert merge_set(("a", "b"), ("a",), ("a", "b", "d")) == ("a", "d")
    assert merge_set(("a", "b"), ("a", "b"), ("b",)) == ("b",)
    assert merge_set((), ("x",), ("x",)) == ("x",)


BASE = Content(
    title="Title",
    summary="Summary",
    body="one\n\ntwo\n\nthree\n",
    channels=("sms-text",),
    topics=("evaluation",),
    licence="OGL-UK-3.0",
)


def test_merge_content_combines_non_overlapping_edits():
    mine = replace(BASE, body="one\n\ntwo\n\nthree, mine\n", topics=("accessibility",))
    theirs = replace(
        BASE,
        body="one, theirs\n\ntwo\n\nthree\n",
        licence="CC-BY-4.0",
        channels=("sms-text", "facebook"),
    )
    merged = merge_content(BASE, mine, theirs)
    assert merged == replace(
        BASE,
        body="one, theirs\n\ntwo\n\nthree, mine\n",
        licence="CC-BY-4.0",
        channels=("facebook", "sms-text"),
        topics=("accessibility",),
    )


@pytest.mark.parametrize(
    "field_changes",
    [
        ({"body": "one, mine\n\ntwo\n\nthree\n"}, {"body": "one, theirs\n\ntwo\n\nthree\n"}),
        ({"title": "Mine"}, {"title": "Theirs"}),
        ({"licence": "CC-BY-4.0"}, {"licence": "ask-first"}),
    ],
    ids=["body", "title", "licence"],
)
def test_merge_content_refuses_overlapping_edits(field_changes):
    mine, theirs = (replace(BASE, **changes) for changes in field_changes)
    assert merge_content(BASE, mine, theirs) is None
