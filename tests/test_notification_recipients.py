"""Who is told what: every event against every kind of person.

People: followers of the entry, of its sector, of a matching search, of its organisation (and
one following all of these at once), the owning organisation's editor and member, someone of
another organisation, and an anonymous visitor (who cannot follow at all). Each event must
reach exactly the people it concerns, once each, and never carry a draft to anyone outside
its organisation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from kb.borrowing.services import adopt, ask_to_borrow, borrow, decide_request
from kb.db import db, utcnow
from kb.entries.content import current_content
from kb.models import Entry, Follow, Organisation, User
from tests.editor_support import Page, add_user, entry_data, send, slug_from
from tests.notify_support import follow_search, follow_through_page, received
from tests.search_support import edit
from tests.web import csrf_token, signed_in

OWNER = "eastmarch-police"
OTHER = "glenharrow-health-board"
THIRD = "harrowdale-constabulary"
WORD = "lighthouse"


def _org(store, slug: str) -> Organisation:
    return store.scalar(select(Organisation).where(Organisation.slug == slug))


@pytest.fixture
def people(catalogue_app, store) -> dict:
    owner, other = _org(store, OWNER), _org(store, OTHER)
    people = {
        "owner_editor": add_user(catalogue_app, store, owner, role="editor"),
        "owner_member": add_user(catalogue_app, store, owner),
        "other": add_user(catalogue_app, store, other),
        "sector_fan": add_user(catalogue_app, store, other),
        "search_fan": add_user(catalogue_app, store, other),
        "org_fan": add_user(catalogue_app, store, other),
        "every_fan": add_user(catalogue_app, store, other),
        "entry_fan": add_user(catalogue_app, store, owner),  # follows a draft: a colleague
    }
    follow_through_page(catalogue_app, people["sector_fan"], "sector", "police")
    follow_search(catalogue_app, people["search_fan"], f"q={WORD}")
    follow_through_page(catalogue_app, people["org_fan"], "organisation", OWNER)
    for kind, target in (("sector", "police"), ("organisation", OWNER), ("channel", "sms-text")):
        follow_through_page(catalogue_app, people["every_fan"], kind, target)
    follow_search(catalogue_app, people["every_fan"], f"q={WORD}&sector=police")
    return people


def _only(app, people: dict, expected: dict[str, Counter]) -> None:
    """Each person received exactly ``expected`` (events counted), nothing else."""
    got = {
        name: Counter(event for event, _entry in received(app, person))
        for name, person in people.items()
    }
    wanted = {name: expected.get(name, Counter()) for name in people}
    assert got == wanted


def _draft_copy(session, source: Entry, organisation: Organisation, author: User | None) -> Entry:
    return borrow(
        session,
        source,
        organisation=organisation,
        author=author,
        content=current_content(source),
        source_revision=source.current_revision_number,
        note="Ours.",
        status="draft",
        now=utcnow(),
    )


def _draft(app, people) -> str:
    editor = signed_in(app, people["owner_editor"])
    data = entry_data(title=f"The {WORD} rota for coastal patrols", similar_dismissed="1")
    return slug_from(send(editor, "/entries/new?kind=guidance", data))


def test_a_draft_tells_nobody_and_its_publication_tells_each_follower_once(catalogue_app, people):
    slug = _draft(catalogue_app, people)
    follow_through_page(catalogue_app, people["entry_fan"], "entry", slug)
    with catalogue_app.app_context():  # a second revision of the draft: still nobody's news
        entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
        edit(db.session, entry, summary="Still a draft.")
        db.session.commit()
    _only(catalogue_app, people, {})

    editor = signed_in(catalogue_app, people["owner_editor"])
    assert send(editor, f"/entries/{slug}/publish", {}).status_code == 302
    once = Counter({"published": 1})
    _only(
        catalogue_app,
        people,
        {
            "sector_fan": once,
            "search_fan": once,
            "org_fan": once,
            "every_fan": once,
            "entry_fan": once,
        },
    )


def test_publishing_from_the_editor_tells_each_follower_once(catalogue_app, people):
    """The editor's "publish" goes through the conditional save, behind the ORM's back; the
    status it replaces is still known exactly, and saving again is a revision, not news of a
    publication."""
    slug = _draft(catalogue_app, people)
    editor = signed_in(catalogue_app, people["owner_editor"])
    url = f"/entries/{slug}/edit"
    form = Page(editor.get(url).text).form(url)
    form["body"], form["action"] = form["body"] + "\nNow checked by the duty sergeant.\n", "publish"
    assert send(editor, url, form).status_code == 302
    published = Counter({"published": 1})
    fans = ("sector_fan", "search_fan", "org_fan", "every_fan")
    _only(catalogue_app, people, {name: published for name in fans})

    form = Page(editor.get(url).text).form(url)
    form["body"], form["action"] = form["body"] + "\nAnd reviewed.\n", "save"
    assert send(editor, url, form).status_code == 302
    both = Counter({"published": 1, "revised": 1})
    _only(catalogue_app, people, {name: both for name in fans})


def test_a_revision_tells_followers_but_not_its_author(catalogue_app, people, store):
    slug = _draft(catalogue_app, people)
    editor = signed_in(catalogue_app, people["owner_editor"])
    send(editor, f"/entries/{slug}/publish", {})
    follow_through_page(catalogue_app, people["owner_editor"], "entry", slug)  # the author
    follow_through_page(catalogue_app, people["entry_fan"], "entry", slug)
    with catalogue_app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
        author = db.session.get(User, people["owner_editor"].id)
        content = replace(current_content(entry), body=entry.current_revision.body + "\nMore.")
        from kb.entries.editing import save_edit

        save_edit(
            db.session,
            entry,
            author=author,
            content=content,
            edit_summary="Winter rota",
            base=entry.current_revision_number,
            now=utcnow(),
        )
        db.session.commit()
    both = Counter({"published": 1, "revised": 1})
    _only(
        catalogue_app,
        people,
        {
            "sector_fan": both,
            "search_fan": both,
            "org_fan": both,
            "every_fan": both,
            "entry_fan": Counter({"revised": 1}),
        },
    )
    with catalogue_app.app_context():
        from kb.models import Notification

        revised = db.session.scalars(select(Notification).where(Notification.event == "revised"))
        assert {n.detail for n in revised} == {"Winter rota"}


def test_borrowing_adopting_and_asking_tell_the_owners(catalogue_app, people):
    with catalogue_app.app_context():
        session = db.session
        owner, other, third = (_org(session, s) for s in (OWNER, OTHER, THIRD))
        source = session.scalar(
            select(Entry)
            .where(Entry.organisation_id == owner.id, Entry.status == "published")
            .limit(1)
        )
        other_person = session.get(User, people["other"].id)
        copy = _draft_copy(session, source, other, other_person)
        session.commit()
        assert received(catalogue_app, people["owner_editor"]) == []  # a draft copy is private
        edit(session, copy, status="published", summary="Published copy.")
        session.commit()
        adopt(session, source, organisation=third, user=None, note="", now=utcnow())
        session.commit()
        ask_first = session.scalar(
            select(Entry)
            .where(Entry.organisation_id == owner.id, Entry.status == "published")
            .offset(1)
            .limit(1)
        )
        ask_first.licence = "ask-first"
        session.commit()
        request = ask_to_borrow(
            session,
            ask_first,
            organisation=other,
            user=other_person,
            message="May we?",
            now=utcnow(),
        )
        session.commit()
        decide_request(
            session,
            request,
            user=session.get(User, people["owner_editor"].id),
            grant=True,
            now=utcnow(),
        )
        session.commit()
        copy_id, source_id, ask_id = copy.id, source.id, ask_first.id
    owners = {("borrowed", copy_id), ("adopted", source_id), ("asked", ask_id)}
    for name in ("owner_editor", "owner_member", "entry_fan"):  # every approved owner member
        assert set(received(catalogue_app, people[name])) >= owners
    assert ("granted", ask_id) in received(catalogue_app, people["other"])
    for name in ("other", "sector_fan", "search_fan"):
        assert not owners & set(received(catalogue_app, people[name]))


def test_the_original_changing_tells_the_copy_s_organisation(catalogue_app, people):
    with catalogue_app.app_context():
        session = db.session
        owner, other = _org(session, OWNER), _org(session, OTHER)
        source = session.scalar(
            select(Entry)
            .where(Entry.organisation_id == owner.id, Entry.status == "published")
            .limit(1)
        )
        copy = _draft_copy(session, source, other, None)
        session.commit()
        edit(session, source, summary="The original, changed.")
        session.commit()
        copy_id = copy.id
    for name in ("other", "sector_fan", "search_fan", "org_fan", "every_fan"):  # health board
        assert ("upstream", copy_id) in received(catalogue_app, people[name])
    for name in ("owner_editor", "owner_member"):
        assert ("upstream", copy_id) not in received(catalogue_app, people[name])


def test_asking_to_join_tells_the_editors_and_approval_tells_the_person(
    catalogue_app, people, store
):
    owner = _org(store, OWNER)
    newcomer = add_user(catalogue_app, store, owner, approved=False)
    joins = Counter({"join_requested": 1})
    assert Counter(e for e, _ in received(catalogue_app, people["owner_editor"])) == joins
    assert received(catalogue_app, people["owner_member"]) == []  # editors decide
    editor = signed_in(catalogue_app, people["owner_editor"])
    response = send(editor, f"/orgs/{OWNER}/members/{newcomer.id}/approve", {})
    assert response.status_code == 302
    assert received(catalogue_app, newcomer) == [("approved", None)]


def test_review_reminders_come_30_days_before_and_on_the_day_and_never_twice(
    catalogue_app, people, store
):
    today = utcnow().date()
    with catalogue_app.app_context():
        owner = _org(db.session, OWNER)
        entry = db.session.scalar(
            select(Entry)
            .where(Entry.organisation_id == owner.id, Entry.status == "published")
            .limit(1)
        )
        entry.review_by = today + timedelta(days=30)
        db.session.commit()
        entry_id = entry.id
    runner = catalogue_app.test_cli_runner()
    for _ in range(2):
        assert runner.invoke(args=["remind-reviews", "--today", today.isoformat()]).exit_code == 0
    later = (today + timedelta(days=30)).isoformat()
    for _ in range(2):
        assert runner.invoke(args=["remind-reviews", "--today", later]).exit_code == 0
    expected = [("review_soon", entry_id), ("review_due", entry_id)]
    assert [
        n for n in received(catalogue_app, people["owner_editor"]) if n[1] == entry_id
    ] == expected
    assert received(catalogue_app, people["owner_member"]) == []


def test_a_draft_followed_through_its_organisation_reaches_no_outsider(catalogue_app, people):
    slug = _draft(catalogue_app, people)
    with catalogue_app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
        for number in range(3):
            edit(db.session, entry, summary=f"Draft change {number}.")
            db.session.commit()
    for name in ("org_fan", "every_fan", "sector_fan", "search_fan", "other"):
        assert received(catalogue_app, people[name]) == []


def test_nobody_anonymous_can_follow(catalogue_app):
    client = catalogue_app.test_client()
    token = csrf_token(client, "/login")
    response = client.post(
        "/follow", data={"kind": "sector", "target": "police", "csrf_token": token}
    )
    assert response.status_code == 401
    with catalogue_app.app_context():
        assert db.session.scalar(select(Follow.id)) is None
