"""The permission matrix: who may view, edit, publish, archive, restore and revert which entry.

EXPECTED is written out by hand from the rules (kb/permissions.py's docstring), never computed
from the permission functions. It is checked twice: against the functions directly, and over
HTTP against the real routes, signed in as real users, with the database checked after every
write. Then the members page (approve, decline) and the admin pages.

HTTP tests set up data in short app contexts of their own and never hold one while the test
client runs: a request made inside a held app context shares its ``g``, including the user
Flask-Login cached there, so one client would act as another's signed-in user.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from kb import permissions
from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.db import db, utcnow
from kb.entries.content import current_content
from kb.entries.editing import save_edit
from kb.licences import DEFAULT_LICENCE
from kb.models import Entry, Organisation, OrganisationRequest, Revision, Sector, User
from tests.factories import TEST_PASSWORD, make_entry, make_user
from tests.web import signed_in

OWN, OTHER = "eastmarch-police", "harrowdale-constabulary"  # every entry below belongs to OWN
ACTIONS = ("view", "edit", "publish", "archive", "restore", "revert")
KINDS = ("draft", "published", "archived", "open-draft", "open-published")

# Columns follow KINDS; "open-" entries have open_to_any_member set.
READ_PUBLIC = ("", "view", "view", "", "view")
RUNS = (
    "view edit publish archive revert",
    "view edit archive revert",
    "view restore",
    "view edit publish archive revert",
    "view edit archive revert",
)
EXPECTED = {
    "anonymous": READ_PUBLIC,
    "no-organisation": READ_PUBLIC,  # signed in, organisation request still pending
    "pending-own": READ_PUBLIC,  # asked to join OWN, not yet approved
    "pending-other": READ_PUBLIC,
    "member-own": (
        "view edit revert",
        "view edit revert",
        "view",
        "view edit revert",
        "view edit revert",
    ),
    "member-other": ("", "view", "view", "", "view edit revert"),
    "editor-own": RUNS,
    "editor-other": ("", "view", "view", "", "view edit revert"),
    "admin-none": RUNS,  # the demo admin, who has no organisation
    "admin-own": RUNS,
    "admin-other": RUNS,
}
CHECKS = {action: getattr(permissions, f"can_{action}") for action in ACTIONS}
REVISED, EDITED = " (revised)", "Edited over HTTP"


def _allowed(actor: str, kind: str) -> set[str]:
    allowed = set(EXPECTED[actor][KINDS.index(kind)].split())
    assert allowed <= set(ACTIONS), f"typo in EXPECTED[{actor!r}]: {allowed - set(ACTIONS)}"
    return allowed


def _organisation(session, slug: str) -> Organisation:
    return session.scalar(select(Organisation).where(Organisation.slug == slug))


def _actors(session) -> dict[str, tuple[User | None, str]]:
    """Every actor as (user, password): demo accounts where they exist, factories otherwise."""
    own, other = _organisation(session, OWN), _organisation(session, OTHER)

    def demo(email: str) -> tuple[User, str]:
        return session.scalar(select(User).where(User.email == email)), DEMO_PASSWORD

    actors = {
        "anonymous": (None, ""),
        "no-organisation": (make_user(session, None, approved=False), TEST_PASSWORD),
        "pending-own": (make_user(session, own, approved=False), TEST_PASSWORD),
        "pending-other": (make_user(session, other, approved=False), TEST_PASSWORD),
        "member-own": demo(f"member@{OWN}.example"),
        "member-other": demo(f"member@{OTHER}.example"),
        "editor-own": demo(f"editor@{OWN}.example"),
        "editor-other": demo(f"editor@{OTHER}.example"),
        "admin-none": demo(ADMIN_EMAIL),
        "admin-own": (make_user(session, own, role="admin"), TEST_PASSWORD),
        "admin-other": (make_user(session, other, role="admin"), TEST_PASSWORD),
    }
    assert set(actors) == set(EXPECTED)
    assert all(user is not None for name, (user, _) in actors.items() if name != "anonymous")
    return actors


def _entry(session, kind: str, *, revisions: int = 1) -> Entry:
    """An entry of OWN's; with ``revisions=2`` its second revision changed title and text."""
    entry = make_entry(session, _organisation(session, OWN), status=kind.removeprefix("open-"))
    entry.open_to_any_member = kind.startswith("open-")
    session.flush()
    if revisions == 2:
        content = replace(
            current_content(entry), title=entry.title + REVISED, body="## Context\n\nRevised."
        )
        save_edit(
            session, entry, author=None, content=content, base=1, edit_summary="", now=utcnow()
        )
    return entry


def test_permission_functions_match_the_table(session):
    assert all(len(row) == len(KINDS) for row in EXPECTED.values())
    actors = _actors(session)
    entries = {kind: _entry(session, kind) for kind in KINDS}
    mismatches = []
    for actor, (user, _) in actors.items():
        # Views see Flask-Login's anonymous user; templates and services may pass None.
        users = [None, AnonymousUserMixin()] if user is None else [user]
        for kind, entry in entries.items():
            allowed = _allowed(actor, kind)
            for action, check in CHECKS.items():
                for who in users:
                    if check(who, entry) != (action in allowed):
                        wanted = "allow" if action in allowed else "deny"
                        mismatches.append(f"{actor} ({who!r}) {kind} {action}: expected {wanted}")
    assert not mismatches, "\n".join(mismatches)


# --- Over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def people(catalogue_app) -> dict[str, tuple[str | None, str, int | None]]:
    """actor -> (email, password, user id), committed."""
    with catalogue_app.app_context():
        actors = _actors(db.session)
        db.session.commit()
        return {
            name: (user.email, pw, user.id) if user else (None, pw, None)
            for name, (user, pw) in actors.items()
        }


def _client(app, people, actor: str):
    """A test client signed in as ``actor``, and a CSRF token for its session."""
    return _signed_in(app, *people[actor][:2])


def _signed_in(app, email: str | None, password: str):
    client = signed_in(app, email, password)
    return client, client.csrf


def _edit_form(token: str, kind: str) -> dict:
    opened = {"open_to_any_member": "y"} if kind.startswith("open-") else {}
    return opened | {
        "csrf_token": token,
        "base_revision": "2",
        "title": EDITED,
        "summary": "Changed over HTTP.",
        "body": "## Context\n\nChanged over HTTP.",
        "channels": ["x-twitter"],
        "topics": ["evaluation"],
        "licence": DEFAULT_LICENCE,
        "action": "save",
    }


def _request(client, token: str, action: str, slug: str, kind: str):
    url = f"/entries/{slug}"
    if action == "view":
        return client.get(url)
    if action == "edit-form":
        return client.get(f"{url}/edit")
    if action == "edit":
        return client.post(f"{url}/edit", data=_edit_form(token, kind))
    if action == "revert":
        return client.post(f"{url}/revert/1", data={"csrf_token": token, "base_revision": "2"})
    return client.post(f"{url}/{action}", data={"csrf_token": token})


def _expected_code(actor: str, kind: str, action: str) -> int:
    allowed = _allowed(actor, kind)
    reading = action in ("view", "edit-form")
    if actor == "anonymous" and action != "view":
        return 302 if reading else 401  # login_required: sign-in page, or 401 for a POST
    if action.removesuffix("-form") in allowed:
        return 200 if reading else 302
    return 403 if "view" in allowed else 404


def _to_login(response) -> bool:
    return response.headers["Location"].startswith("/login?next=")


def _state(app, slug: str) -> dict:
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
        revisions = db.session.scalar(
            select(func.count(Revision.id)).where(Revision.entry_id == entry.id)
        )
        return {
            "status": entry.status,
            "revision": entry.current_revision_number,
            "revisions": revisions,
            "title": entry.title,
            "open": entry.open_to_any_member,
            "updated": entry.updated_at,
        }


def _timeless(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "updated"}


def _after_allowed(before: dict, action: str) -> dict:
    after = _timeless(before)
    if action in ("publish", "restore"):
        after["status"] = "published"
    elif action == "archive":
        after["status"] = "archived"
    else:  # edit or revert: a third revision
        title = EDITED if action == "edit" else before["title"].removesuffix(REVISED)
        after |= {"revision": 3, "revisions": 3, "title": title}
    return after


WRITES = ("edit", "publish", "archive", "restore", "revert")


def test_http_matches_the_table(catalogue_app, people):
    with catalogue_app.app_context():
        reads = {kind: _entry(db.session, kind).slug for kind in KINDS}
        writes = {
            (actor, kind, action): _entry(db.session, kind, revisions=2).slug
            for actor in EXPECTED
            for kind in KINDS
            for action in WRITES
        }
        db.session.commit()
    mismatches, checked = [], 0
    for actor in EXPECTED:
        client, token = _client(catalogue_app, people, actor)
        for kind in KINDS:
            cells = [("view", reads[kind]), ("edit-form", reads[kind])]
            cells += [(action, writes[actor, kind, action]) for action in WRITES]
            for action, slug in cells:
                before = _state(catalogue_app, slug)
                response = _request(client, token, action, slug, kind)
                after, cell = _state(catalogue_app, slug), f"{actor} {kind} {action}"
                checked += 1
                code = _expected_code(actor, kind, action)
                if response.status_code != code:
                    mismatches.append(f"{cell}: expected {code}, got {response.status_code}")
                elif code == 302 and actor == "anonymous" and not _to_login(response):
                    mismatches.append(f"{cell}: redirected to {response.headers['Location']}")
                wanted = before  # nothing changes unless a write is allowed
                if action in WRITES and code == 302:
                    wanted, after = _after_allowed(before, action), _timeless(after)
                if after != wanted:
                    mismatches.append(f"{cell}: database {before} -> {after}, wanted {wanted}")
    assert checked == len(EXPECTED) * len(KINDS) * 7
    assert not mismatches, f"{len(mismatches)} wrong cells:\n" + "\n".join(mismatches)


def test_only_owning_editors_open_entries_to_any_member(catalogue_app, people):
    with catalogue_app.app_context():
        slug = _entry(db.session, "published", revisions=2).slug
        db.session.commit()
    outsider, _ = _client(catalogue_app, people, "member-other")
    assert outsider.get(f"/entries/{slug}/edit").status_code == 403
    member, token = _client(catalogue_app, people, "member-own")
    response = member.post(f"/entries/{slug}/edit", data=_edit_form(token, "open-published"))
    assert response.status_code == 302
    assert _state(catalogue_app, slug)["open"] is False  # the text saved; the setting did not
    editor, token = _client(catalogue_app, people, "editor-own")
    data = _edit_form(token, "open-published") | {"base_revision": "3"}
    assert editor.post(f"/entries/{slug}/edit", data=data).status_code == 302
    assert _state(catalogue_app, slug)["open"] is True
    assert outsider.get(f"/entries/{slug}/edit").status_code == 200


# --- Members and admin pages ------------------------------------------------------------------


def _approved(app, user_id: int) -> tuple[int | None, bool, str]:
    with app.app_context():
        user = db.session.get(User, user_id)
        return user.organisation_id, user.approved_at is not None, user.role


# actor -> (GET the members page, POST approve or decline someone asking to join)
MEMBER_RULES = {
    "editor-own": (200, 302),
    "admin-none": (200, 302),
    "member-own": (403, 403),
    "pending-own": (403, 403),
    "editor-other": (403, 403),
    "anonymous": (302, 401),
}


@pytest.mark.parametrize("decision", ["approve", "decline"])
@pytest.mark.parametrize("actor", MEMBER_RULES)
def test_members_page_and_decisions(catalogue_app, people, actor, decision):
    page, code = MEMBER_RULES[actor]
    client, token = _client(catalogue_app, people, actor)
    response = client.get(f"/orgs/{OWN}/members")
    assert response.status_code == page
    assert page != 302 or _to_login(response)
    assert (people["pending-own"][0] in response.get_data(as_text=True)) == (page == 200)
    pending = people["pending-own"][2]
    before = _approved(catalogue_app, pending)
    url = f"/orgs/{OWN}/members/{pending}/{decision}"
    assert client.post(url, data={"csrf_token": token}).status_code == code
    after = _approved(catalogue_app, pending)
    if code != 302:
        assert after == before
    elif decision == "approve":
        assert after == (before[0], True, "member")
    else:
        assert after == (None, False, "member")


def test_approval_lets_a_pending_member_see_and_edit_drafts(catalogue_app, people):
    with catalogue_app.app_context():
        slug = _entry(db.session, "draft").slug
        db.session.commit()
    pending, _ = _client(catalogue_app, people, "pending-own")
    assert pending.get(f"/entries/{slug}").status_code == 404
    assert pending.get(f"/entries/{slug}/edit").status_code == 404
    editor, token = _client(catalogue_app, people, "editor-own")
    url = f"/orgs/{OWN}/members/{people['pending-own'][2]}/approve"
    assert editor.post(url, data={"csrf_token": token}).status_code == 302
    assert pending.get(f"/entries/{slug}").status_code == 200
    assert pending.get(f"/entries/{slug}/edit").status_code == 200


def test_editors_decide_only_their_own_organisations_people(catalogue_app, people):
    editor, token = _client(catalogue_app, people, "editor-own")
    stranger = people["pending-other"][2]
    before = _approved(catalogue_app, stranger)
    for decision in ("approve", "decline"):
        url = f"/orgs/{OWN}/members/{stranger}/{decision}"
        assert editor.post(url, data={"csrf_token": token}).status_code == 404
        url = f"/orgs/{OTHER}/members/{stranger}/{decision}"
        assert editor.post(url, data={"csrf_token": token}).status_code == 403
    assert _approved(catalogue_app, stranger) == before
    # Editors decide only about people still waiting: approved people (themselves, fellow
    # editors, members) are out of reach, so nobody's role changes except through /admin.
    for who in ("editor-own", "member-own"):
        target = people[who][2]
        before = _approved(catalogue_app, target)
        url = f"/orgs/{OWN}/members/{target}/decline"
        assert editor.post(url, data={"csrf_token": token}).status_code == 404
        assert _approved(catalogue_app, target) == before


# actor -> (GET /admin, POST a role change or an organisation request decision)
APPROVED, UNCHANGED = ("editor", "approved", "editor", True), ("member", "pending", "member", False)
ADMIN_RULES = {
    "admin-none": (200, 302),
    "admin-own": (200, 302),
    "editor-own": (403, 403),
    "member-own": (403, 403),
    "no-organisation": (403, 403),
    "anonymous": (302, 401),
}


@pytest.fixture
def organisation_request(catalogue_app, people) -> int:
    with catalogue_app.app_context():
        found = OrganisationRequest(
            requester_id=people["no-organisation"][2],
            name="Requested Council",
            sector=db.session.scalar(select(Sector).where(Sector.slug == "police")),
        )
        db.session.add(found)
        db.session.commit()
        return found.id


@pytest.mark.parametrize("actor", ADMIN_RULES)
def test_admin_pages(catalogue_app, people, organisation_request, actor):
    page, code = ADMIN_RULES[actor]
    client, token = _client(catalogue_app, people, actor)
    response = client.get("/admin")
    assert response.status_code == page
    assert page != 302 or _to_login(response)
    member = people["member-own"][2]
    url = f"/admin/users/{member}/role"
    assert client.post(url, data={"csrf_token": token, "role": "editor"}).status_code == code
    url = f"/admin/requests/{organisation_request}/approve"
    assert client.post(url, data={"csrf_token": token}).status_code == code
    with catalogue_app.app_context():
        role = db.session.get(User, member).role
        status = db.session.get(OrganisationRequest, organisation_request).status
        requester = db.session.get(User, people["no-organisation"][2])
        done = (role, status, requester.role, requester.organisation_id is not None)
        assert done == (APPROVED if code == 302 else UNCHANGED)


@pytest.mark.parametrize("target", ["admin-own", "editor-own"])
def test_declining_is_not_a_way_to_change_roles(catalogue_app, people, target):
    """Roles are for site admins; an editor's decline is for people who asked to join."""
    with catalogue_app.app_context():
        colleague = make_user(db.session, _organisation(db.session, OWN), role="editor").email
        db.session.commit()
    editor, token = _signed_in(catalogue_app, colleague, TEST_PASSWORD)
    user_id = people[target][2]
    before = _approved(catalogue_app, user_id)
    response = editor.post(f"/orgs/{OWN}/members/{user_id}/decline", data={"csrf_token": token})
    after = _approved(catalogue_app, user_id)  # (organisation id, approved, role)
    # Not the editor's to decline: as if there were no such request to join.
    assert response.status_code == 404 and after == before, (response.status_code, after)


# actor -> (publish a new entry, save a new draft, publish a draft of OWN's from its edit form)
CREATE_RULES = {
    "anonymous": (401, 401, 401),
    "pending-own": (403, 403, 404),
    "no-organisation": (403, 403, 404),
    "member-own": (403, 302, 403),
    "editor-own": (302, 302, 302),
    "admin-own": (302, 302, 302),
}


@pytest.mark.parametrize("actor", CREATE_RULES)
def test_creating_and_publishing_through_the_forms(catalogue_app, people, actor):
    client, token = _client(catalogue_app, people, actor)
    form = _edit_form(token, "draft") | {"kind": "guidance"}
    for action, code in zip(("publish", "save"), CREATE_RULES[actor][:2], strict=True):
        title = f"New {action} by {actor}"
        response = client.post("/entries/new", data=form | {"action": action, "title": title})
        assert response.status_code == code
        with catalogue_app.app_context():
            entry = db.session.scalar(select(Entry).where(Entry.title == title))
            made = (entry.organisation.slug, entry.status) if entry else None
        wanted = "published" if action == "publish" else "draft"
        assert made == ((OWN, wanted) if code == 302 else None)
    with catalogue_app.app_context():
        slug = _entry(db.session, "draft", revisions=2).slug
        db.session.commit()
    response = client.post(f"/entries/{slug}/edit", data=form | {"action": "publish"})
    assert response.status_code == CREATE_RULES[actor][2]
    assert _state(catalogue_app, slug)["status"] == (
        "published" if response.status_code == 302 else "draft"
    )
