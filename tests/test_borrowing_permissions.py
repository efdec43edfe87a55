"""The borrowing permission matrix: who may borrow, ask, adopt, withdraw, decide requests, see
requests, see and merge or dismiss an original's changes, and see what an organisation borrowed.

EXPECTED is written out by hand from the rules (kb/permissions.py's docstring), never computed
from the permission functions. It is checked twice: against the functions directly, and over
HTTP against the real routes, signed in as real users, with the database checked after every
write. Then the rules around the matrix: drafts, archived copies, and which controls an entry
page offers to whom.

Three organisations of our own: OWN owns every original, BORROWER made a copy of one of them
(and adopted another), OTHER has nothing to do with either. As in tests/test_permissions.py,
data is set up in a session of its own and no app context is held while the client runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from kb import permissions
from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.borrowing.services import BorrowRefused, adopt, borrow, borrowing_content
from kb.borrowing.upstream import proposal_for
from kb.db import utcnow
from kb.entries.editing import set_status
from kb.models import (
    Adoption,
    Borrow,
    BorrowRequest,
    BorrowRequestStatus,
    Entry,
    Organisation,
    Status,
    User,
)
from tests.editor_support import add_user, entry_by_slug, fresh, send
from tests.factories import TEST_PASSWORD, make_entry, make_organisation
from tests.merge_support import UPDATE_NOTICE, make_copy, revise
from tests.web import signed_in

ACTIONS = (
    "borrow",  # adapt an adaptable original
    "ask",  # ask to adapt an "ask first" original
    "borrow-granted",  # adapt an "ask first" original once asked and granted
    "adopt",  # "we use this as it is"
    "withdraw",  # "we no longer use this" (the borrowing organisation's adoption)
    "decide",  # grant or decline a request to adapt one of OWN's entries
    "requests",  # see OWN's borrow-requests page
    "upstream",  # be told on the copy that its original changed
    "merge",  # merge the original's changes into the copy
    "dismiss",  # dismiss them until the next change
    "borrowed",  # see BORROWER's list of what it borrowed and adopted
)
BORROWERS = "borrow ask adopt withdraw upstream merge dismiss borrowed"
OUTSIDERS = "borrow ask borrow-granted adopt"  # OTHER was granted its request
EXPECTED = {
    "anonymous": "",
    "pending-own": "",  # asked to join OWN, not yet approved
    "pending-borrower": "",  # asked to join BORROWER, not yet approved
    "member-own": "",  # owners edit their entries; they do not borrow them
    "editor-own": "decide requests",
    "member-other": OUTSIDERS,
    "editor-other": OUTSIDERS,
    "member-borrower": BORROWERS,
    "editor-borrower": BORROWERS,
    "admin-none": "withdraw decide requests upstream merge dismiss borrowed",  # the demo admin
}
ORGS = {"own": "Owning Police", "borrower": "Borrowing Health Board", "other": "Other Council"}


def _allowed(actor: str) -> set[str]:
    allowed = set(EXPECTED[actor].split())
    assert allowed <= set(ACTIONS), f"typo in EXPECTED[{actor!r}]: {allowed - set(ACTIONS)}"
    return allowed


@dataclass
class World:
    """Ids and slugs of everything the matrix needs, committed."""

    orgs: dict[str, int]
    people: dict[str, tuple[str | None, str, int | None]]  # actor -> (email, password, id)
    source: str  # adaptable, published
    ask_first: str  # "ask first", nobody asked
    granted: str  # "ask first", OTHER's request granted
    copy: str  # BORROWER's copy, whose original has changed since
    adopted: str  # adopted by BORROWER
    request: int  # a pending request by OTHER to adapt an entry of OWN's
    fresh: dict = field(default_factory=dict)  # (actor, action) -> objects of its own


def _org_of(actor: str) -> str | None:
    """ "own", "borrower" or "other" for actors who belong (or asked to belong) to one."""
    org = actor.rpartition("-")[2]
    return org if org in ORGS else None


def _people(app, store, orgs) -> dict:
    people = {"anonymous": (None, "", None)}
    for actor in EXPECTED:
        if actor in ("anonymous", "admin-none"):
            continue
        kind, org = actor.split("-")
        role = "editor" if kind == "editor" else "member"
        person = add_user(app, store, orgs[org], role=role, approved=kind != "pending")
        people[actor] = (person.email, TEST_PASSWORD, person.id)
    admin = store.scalar(select(User).where(User.email == ADMIN_EMAIL))
    people["admin-none"] = (ADMIN_EMAIL, DEMO_PASSWORD, admin.id)
    assert set(people) == set(EXPECTED)
    return people


def _copy_with_update(store, orgs, people) -> Entry:
    """A copy by BORROWER of a new original of OWN's, which then gained a revision."""
    source = make_entry(store, orgs["own"], body="## Context\n\nOne.\n\nTwo.\n")
    author = store.get(User, people["member-borrower"][2])
    copy = make_copy(store, source, orgs["borrower"], author,
                     body="## Context\n\nOne, for clinicians.\n\nTwo.\n")  # fmt: skip
    revise(store, source, body="## Context\n\nOne.\n\nTwo, with figures.\n")
    return copy


def _request(store, entry: Entry, organisation, status=BorrowRequestStatus.PENDING) -> int:
    found = BorrowRequest(
        entry_id=entry.id, organisation=organisation, message="May we?", status=status.value
    )
    store.add(found)
    store.flush()
    return found.id


def _ask_first(store, orgs) -> Entry:
    return make_entry(store, orgs["own"], licence="ask-first")


def _adopted(store, orgs) -> Entry:
    entry = make_entry(store, orgs["own"])
    adopt(store, entry, organisation=orgs["borrower"], user=None, note="", now=utcnow())
    return entry


@pytest.fixture
def world(catalogue_app, store) -> World:
    orgs = {
        key: make_organisation(store, sector=sector, name=ORGS[key])
        for key, sector in (("own", "police"), ("borrower", "health"), ("other", "housing"))
    }
    store.commit()
    people = _people(catalogue_app, store, orgs)
    granted = _ask_first(store, orgs)
    _request(store, granted, orgs["other"], BorrowRequestStatus.GRANTED)
    world = World(
        orgs={key: org.id for key, org in orgs.items()},
        people=people,
        source=make_entry(store, orgs["own"]).slug,
        ask_first=_ask_first(store, orgs).slug,
        granted=granted.slug,
        copy=_copy_with_update(store, orgs, people).slug,
        adopted=_adopted(store, orgs).slug,
        request=_request(store, _ask_first(store, orgs), orgs["other"]),
    )
    for actor in EXPECTED:  # objects each write of each actor may change
        world.fresh[actor, "adopt"] = make_entry(store, orgs["own"]).slug
        world.fresh[actor, "withdraw"] = _adopted(store, orgs).slug
        world.fresh[actor, "grant"] = _request(store, _ask_first(store, orgs), orgs["other"])
        world.fresh[actor, "decline"] = _request(store, _ask_first(store, orgs), orgs["other"])
        world.fresh[actor, "merge"] = _copy_with_update(store, orgs, people).slug
        world.fresh[actor, "dismiss"] = _copy_with_update(store, orgs, people).slug
    store.commit()
    return world


def _borrow_of(store, slug: str) -> Borrow:
    return store.scalar(
        select(Borrow).where(Borrow.entry_id == entry_by_slug(store, slug, refresh=False).id)
    )


# --- The permission functions -------------------------------------------------------------------


def _checks(store, world: World, user) -> dict[str, bool]:
    """Every action's permission function, asked about ``user``."""
    fresh(store)
    organisation_id = getattr(user, "organisation_id", None)
    granted = store.scalar(
        select(func.count(BorrowRequest.id)).where(
            BorrowRequest.entry_id == entry_by_slug(store, world.granted, refresh=False).id,
            BorrowRequest.organisation_id == organisation_id,
            BorrowRequest.status == BorrowRequestStatus.GRANTED.value,
        )
    )
    adoption = store.scalar(
        select(Adoption).where(
            Adoption.entry_id == entry_by_slug(store, world.adopted, refresh=False).id
        )
    )
    copy = entry_by_slug(store, world.copy, refresh=False)
    own, borrower = (store.get(Organisation, world.orgs[k]) for k in ("own", "borrower"))
    return {
        "borrow": permissions.can_borrow(user, entry_by_slug(store, world.source, refresh=False)),
        "ask": permissions.can_ask_to_borrow(
            user, entry_by_slug(store, world.ask_first, refresh=False)
        ),
        "borrow-granted": permissions.can_borrow(
            user, entry_by_slug(store, world.granted, refresh=False), granted=bool(granted)
        ),
        "adopt": permissions.can_adopt(user, entry_by_slug(store, world.source, refresh=False)),
        "withdraw": permissions.can_withdraw_adoption(user, adoption),
        "decide": permissions.can_decide_borrow_request(
            user, store.get(BorrowRequest, world.request)
        ),
        "requests": permissions.can_see_borrow_requests(user, own),
        "upstream": permissions.can_see_upstream(user, copy),
        "merge": permissions.can_merge_upstream(user, copy),
        "dismiss": permissions.can_merge_upstream(user, copy),
        "borrowed": permissions.can_see_borrowed(user, borrower),
    }


def test_permission_functions_match_the_table(store, world):
    mismatches = []
    for actor, (_email, _password, user_id) in world.people.items():
        # Views see Flask-Login's anonymous user; templates and services may pass None.
        users = [None, AnonymousUserMixin()] if user_id is None else [store.get(User, user_id)]
        allowed = _allowed(actor)
        for user in users:
            for action, result in _checks(store, world, user).items():
                if result != (action in allowed):
                    wanted = "allow" if action in allowed else "deny"
                    mismatches.append(f"{actor} ({user!r}) {action}: expected {wanted}")
    assert not mismatches, "\n".join(mismatches)


# --- Over HTTP ----------------------------------------------------------------------------------

LOGIN = "login"  # expected: a redirect to the sign-in page
ASK = "ask"  # expected: a redirect to the ask-first form


def _expected(actor: str, action: str, method: str):
    """The status code (or LOGIN/ASK) the table implies for one request."""
    allowed = action in _allowed(actor)
    if action == "upstream":
        return 200  # the copy is public; only the notice on it depends on the table
    if actor == "anonymous":
        return LOGIN if method == "GET" else 401
    if action == "withdraw" and _org_of(actor) != "borrower":
        # The route withdraws the signed-in person's own organisation's adoption, so people
        # whose organisation adopted nothing find nothing to withdraw: 404. That includes the
        # demo admin, who has no organisation, although can_withdraw_adoption lets admins.
        return 404
    if action == "borrow-granted" and actor in ("member-borrower", "editor-borrower"):
        return ASK  # BORROWER was never granted: the borrow link leads to asking
    if allowed:
        return 200 if method == "GET" else 302
    return 403


def _borrow_form(store, slug: str, client, note: str) -> dict:
    fresh(store)
    source = entry_by_slug(store, slug, refresh=False)
    content = borrowing_content(source)
    return {
        "csrf_token": client.csrf,
        "kind": source.kind,
        "source_revision": str(source.current_revision_number),
        "title": f"{content.title} (our version)",
        "summary": content.summary,
        "body": content.body,
        "channels": list(content.channels),
        "topics": list(content.topics),
        "licence": content.licence,
        "note": note,
        "action": "draft",
    }


def _merge_form(store, slug: str, client) -> dict:
    fresh(store)
    copy = entry_by_slug(store, slug, refresh=False)
    proposal = proposal_for(store, copy, _borrow_of(store, slug))
    content = proposal.content
    return {
        "csrf_token": client.csrf,
        "kind": copy.kind,
        "base_revision": str(copy.current_revision_number),
        "upstream_revision": str(proposal.upstream_revision),
        "title": content.title,
        "summary": content.summary,
        "body": content.body,
        "channels": list(content.channels),
        "topics": list(content.topics),
        "licence": content.licence,
        "action": "save",
    }


def _copies_made(store, slug: str) -> list:
    fresh(store)
    source = entry_by_slug(store, slug, refresh=False)
    return sorted(
        (row.created_by_id or 0)
        for row in store.scalars(select(Borrow).where(Borrow.source_id == source.id))
    )


def _requests_of(store, slug: str) -> list:
    fresh(store)
    entry = entry_by_slug(store, slug, refresh=False)
    query = select(BorrowRequest.organisation_id, BorrowRequest.status, BorrowRequest.message)
    return sorted(store.execute(query.where(BorrowRequest.entry_id == entry.id)).all())


def _adopters(store, slug: str) -> list:
    fresh(store)
    entry = entry_by_slug(store, slug, refresh=False)
    query = select(Adoption.organisation_id).where(Adoption.entry_id == entry.id)
    return sorted(store.scalars(query))


def _request_status(store, request_id: int) -> str:
    fresh(store)
    return store.get(BorrowRequest, request_id).status


def _copy_state(store, slug: str) -> tuple:
    fresh(store)
    row = _borrow_of(store, slug)
    entry = entry_by_slug(store, slug, refresh=False)
    return entry.current_revision_number, row.source_revision, row.dismissed_revision


@dataclass
class Cell:
    """One request of the matrix: what it sends, and how to read what it may change."""

    action: str
    method: str
    url: str
    data: object = None  # a dict, or a function of the client returning one
    observe: object = None  # store -> a value a write changes
    wanted: object = None  # the observed value after an allowed write


def _cells(store, world: World, actor: str) -> list[Cell]:
    email, _password, user_id = world.people[actor]
    org_key = _org_of(actor)
    org_id = world.orgs.get(org_key) if org_key and not actor.startswith("pending") else None
    note = f"Adapted by {actor}"
    message = f"May {actor} adapt this?"
    fresh_ = world.fresh
    return [
        Cell("borrow", "GET", f"/entries/{world.source}/borrow"),
        Cell(
            "borrow", "POST", f"/entries/{world.source}/borrow",
            lambda client: _borrow_form(store, world.source, client, note),
            lambda s: _copies_made(s, world.source),
            lambda before: sorted([*before, user_id]),
        ),
        Cell("ask", "GET", f"/entries/{world.ask_first}/ask"),
        Cell(
            "ask", "POST", f"/entries/{world.ask_first}/ask", {"message": message},
            lambda s: _requests_of(s, world.ask_first),
            lambda before: sorted(
                [r for r in before if r[0] != org_id] + [(org_id, "pending", message)]
            ),
        ),
        Cell("borrow-granted", "GET", f"/entries/{world.granted}/borrow"),
        Cell(
            "borrow-granted", "POST", f"/entries/{world.granted}/borrow",
            lambda client: _borrow_form(store, world.granted, client, note),
            lambda s: _copies_made(s, world.granted),
            lambda before: sorted([*before, user_id]),
        ),
        Cell(
            "adopt", "POST", f"/entries/{fresh_[actor, 'adopt']}/adopt", {"note": "As it is."},
            lambda s: _adopters(s, fresh_[actor, "adopt"]),
            lambda before: [org_id],
        ),
        Cell(
            "withdraw", "POST", f"/entries/{fresh_[actor, 'withdraw']}/adopt/withdraw", {},
            lambda s: _adopters(s, fresh_[actor, "withdraw"]),
            lambda before: [],
        ),
        Cell(
            "decide", "POST", f"/borrow-requests/{fresh_[actor, 'grant']}/grant", {},
            lambda s: _request_status(s, fresh_[actor, "grant"]),
            lambda before: "granted",
        ),
        Cell(
            "decide", "POST", f"/borrow-requests/{fresh_[actor, 'decline']}/decline", {},
            lambda s: _request_status(s, fresh_[actor, "decline"]),
            lambda before: "declined",
        ),
        Cell("requests", "GET", f"/orgs/{_slug(store, world, 'own')}/borrow-requests"),
        Cell("upstream", "GET", f"/entries/{world.copy}"),
        Cell("merge", "GET", f"/entries/{world.copy}/upstream/merge"),
        Cell(
            "merge", "POST", f"/entries/{fresh_[actor, 'merge']}/upstream/merge",
            lambda client: _merge_form(store, fresh_[actor, "merge"], client),
            lambda s: _copy_state(s, fresh_[actor, "merge"]),
            lambda before: (2, 2, None),
        ),
        Cell(
            "dismiss", "POST", f"/entries/{fresh_[actor, 'dismiss']}/upstream/dismiss", {},
            lambda s: _copy_state(s, fresh_[actor, "dismiss"]),
            lambda before: (1, 1, 2),
        ),
        Cell("borrowed", "GET", f"/orgs/{_slug(store, world, 'borrower')}/borrowed"),
    ]  # fmt: skip


def _slug(store, world: World, key: str) -> str:
    return store.get(Organisation, world.orgs[key]).slug


def _outcome(response):
    """What a response amounts to: a status code, LOGIN or ASK."""
    if response.status_code == 302:
        location = response.headers["Location"]
        if location.startswith("/login?next="):
            return LOGIN
        if location.endswith("/ask"):
            return ASK
    return response.status_code


def test_http_matches_the_table(catalogue_app, store, world):
    mismatches, checked = [], set()
    for actor in EXPECTED:
        email, password, _user_id = world.people[actor]
        client = signed_in(catalogue_app, email, password)
        for cell in _cells(store, world, actor):
            name = f"{actor} {cell.method} {cell.action} {cell.url}"
            before = cell.observe(store) if cell.observe else None
            if cell.method == "GET":
                response = client.get(cell.url)
            else:
                data = cell.data(client) if callable(cell.data) else dict(cell.data)
                response = send(client, cell.url, data)
            expected, got = _expected(actor, cell.action, cell.method), _outcome(response)
            checked.add((actor, cell.action))
            if got != expected:
                mismatches.append(f"{name}: expected {expected}, got {got}")
            if cell.observe:
                after = cell.observe(store)
                wanted = cell.wanted(before) if expected == 302 else before
                if after != wanted:
                    mismatches.append(f"{name}: database {before} -> {after}, wanted {wanted}")
            if cell.action == "upstream":
                shown = UPDATE_NOTICE in response.get_data(as_text=True)
                if shown != ("upstream" in _allowed(actor)):
                    mismatches.append(f"{name}: notice {'shown' if shown else 'hidden'}")
                can_merge = "Merge these changes" in response.get_data(as_text=True)
                if can_merge != ("merge" in _allowed(actor)):
                    mismatches.append(f"{name}: merge button {'shown' if can_merge else 'hidden'}")
    assert checked == {(actor, action) for actor in EXPECTED for action in ACTIONS}
    assert not mismatches, f"{len(mismatches)} wrong cells:\n" + "\n".join(mismatches)


# --- Around the matrix --------------------------------------------------------------------------


def test_nobody_borrows_or_adopts_a_draft(catalogue_app, store, world):
    own = store.get(Organisation, world.orgs["own"])
    draft = make_entry(store, own, status="draft")
    ask_draft = make_entry(store, own, status="draft", licence="ask-first")
    store.commit()
    readers = {"member-own", "editor-own", "admin-none"}  # who may see OWN's drafts
    mismatches = []
    for actor in EXPECTED:
        email, password, user_id = world.people[actor]
        user = store.get(User, user_id) if user_id else None
        for check in (permissions.can_borrow, permissions.can_adopt, permissions.can_ask_to_borrow):
            if check(user, draft) or check(user, ask_draft):
                mismatches.append(f"{actor}: {check.__name__} allows a draft")
        if permissions.can_borrow(user, ask_draft, granted=True):
            mismatches.append(f"{actor}: can_borrow allows a granted draft")
        client = signed_in(catalogue_app, email, password)
        hidden = 403 if actor in readers else 404
        for method, url, expected in [
            ("GET", f"/entries/{draft.slug}/borrow", LOGIN if actor == "anonymous" else hidden),
            ("POST", f"/entries/{draft.slug}/borrow", 401 if actor == "anonymous" else hidden),
            ("POST", f"/entries/{draft.slug}/adopt", 401 if actor == "anonymous" else hidden),
            ("GET", f"/entries/{ask_draft.slug}/ask", LOGIN if actor == "anonymous" else hidden),
            ("GET", f"/entries/{ask_draft.slug}/borrow", LOGIN if actor == "anonymous" else hidden),
        ]:
            if method == "GET":
                got = _outcome(client.get(url))
            else:
                got = _outcome(send(client, url, _borrow_form(store, draft.slug, client, "x")))
            if got != expected:
                mismatches.append(f"{actor} {method} {url}: expected {expected}, got {got}")
    assert not mismatches, "\n".join(mismatches)
    assert _copies_made(store, draft.slug) == [] and _adopters(store, draft.slug) == []
    # The services refuse too, whoever calls them.
    borrower = store.get(Organisation, world.orgs["borrower"])
    with pytest.raises(BorrowRefused, match="Only published entries can be borrowed"):
        borrow(store, draft, organisation=borrower, author=None,
               content=borrowing_content(draft), source_revision=1, note="x",
               status="draft", now=utcnow())  # fmt: skip
    with pytest.raises(BorrowRefused, match="Only published entries can be adopted"):
        adopt(store, draft, organisation=borrower, user=None, note="", now=utcnow())
    store.rollback()


def test_archived_copies_cannot_be_merged_or_dismissed(catalogue_app, store, world):
    copy = entry_by_slug(store, world.copy, refresh=False)
    set_status(store, copy, Status.ARCHIVED, utcnow())
    store.commit()
    before = _copy_state(store, world.copy)
    borrower_slug = _slug(store, world, "borrower")
    for actor in ("member-borrower", "editor-borrower", "admin-none"):
        email, password, user_id = world.people[actor]
        fresh(store)
        user = store.get(User, user_id)
        copy = entry_by_slug(store, world.copy, refresh=False)
        assert permissions.can_see_upstream(user, copy), actor
        assert not permissions.can_merge_upstream(user, copy), actor
        client = signed_in(catalogue_app, email, password)
        assert client.get(f"/entries/{world.copy}/upstream/merge").status_code == 403
        form = _merge_form(store, world.copy, client)
        assert send(client, f"/entries/{world.copy}/upstream/merge", form).status_code == 403
        assert send(client, f"/entries/{world.copy}/upstream/dismiss", {}).status_code == 403
        page = client.get(f"/entries/{world.copy}").get_data(as_text=True)
        assert UPDATE_NOTICE in page  # still told, for the record...
        assert "Merge these changes" not in page  # ...but offered nothing to do
        assert "Dismiss until the next change" not in page
        listing = client.get(f"/orgs/{borrower_slug}/borrowed").get_data(as_text=True)
        assert f'href="/entries/{world.copy}/upstream/merge"' not in listing
        assert "The original has changed" in listing
    assert _copy_state(store, world.copy) == before


CONTROLS = (
    "Borrow this",
    "Ask to borrow",
    "Change your request to borrow",
    "Sign in to borrow",
    "We use this as it is",
    "We no longer use this",
)
# actor -> controls on (an adaptable original, an "ask first" one, an archived one, the copy)
PAGE_CONTROLS = {
    "anonymous": ({"Sign in to borrow"}, {"Sign in to borrow"}, set(), {"Sign in to borrow"}),
    "pending-own": (set(), set(), set(), set()),
    "pending-borrower": (set(), set(), set(), set()),
    "member-own": (set(), set(), set(), {"Borrow this", "We use this as it is"}),
    "editor-own": (set(), set(), set(), {"Borrow this", "We use this as it is"}),
    "member-other": (
        {"Borrow this", "We use this as it is"},
        {"Ask to borrow", "We use this as it is"},
        set(),
        {"Borrow this", "We use this as it is"},
    ),
    "member-borrower": (
        {"Borrow this", "We use this as it is"},
        {"Ask to borrow", "We use this as it is"},
        set(),
        set(),  # their own copy
    ),
    "admin-none": (set(), set(), set(), set()),
}


def _controls(page: str) -> set[str]:
    actions = re.search(r'<ul class="entry-actions".*?</ul>', page, re.S)
    assert actions, "no entry actions"
    return {label for label in CONTROLS if label in actions.group(0)}


@pytest.mark.parametrize("actor", PAGE_CONTROLS)
def test_entry_pages_offer_borrowing_to_the_right_people(catalogue_app, store, world, actor):
    own = store.get(Organisation, world.orgs["own"])
    archived = make_entry(store, own, status="archived").slug
    store.commit()
    email, password, _ = world.people[actor]
    client = signed_in(catalogue_app, email, password)
    slugs = (world.source, world.ask_first, archived, world.copy)
    found = tuple(
        _controls(client.get(f"/entries/{slug}").get_data(as_text=True)) for slug in slugs
    )
    assert found == PAGE_CONTROLS[actor]
    if actor == "anonymous":
        page = client.get(f"/entries/{world.source}").get_data(as_text=True)
        assert f'href="/login?next=/entries/{world.source}">Sign in to borrow' in page


def test_asking_granting_and_then_borrowing(catalogue_app, store, world):
    own_slug = _slug(store, world, "own")
    asker = signed_in(catalogue_app, *world.people["member-borrower"][:2])
    url = f"/entries/{world.ask_first}/borrow"
    assert _outcome(asker.get(url)) == ASK
    message = "We would like to adapt this for our wards."
    assert send(asker, f"/entries/{world.ask_first}/ask", {"message": message}).status_code == 302
    page = asker.get(f"/entries/{world.ask_first}").get_data(as_text=True)
    assert "You have asked to borrow this." in page and "Change your request to borrow" in page
    assert _outcome(asker.get(url)) == ASK  # still waiting

    editor = signed_in(catalogue_app, *world.people["editor-own"][:2])
    page = editor.get(f"/entries/{world.ask_first}").get_data(as_text=True)
    assert "1 request to borrow this." in page
    listing = editor.get(f"/orgs/{own_slug}/borrow-requests").get_data(as_text=True)
    assert message in listing
    fresh(store)
    request_id = store.scalar(
        select(BorrowRequest.id).where(
            BorrowRequest.entry_id == entry_by_slug(store, world.ask_first, refresh=False).id,
            BorrowRequest.organisation_id == world.orgs["borrower"],
        )
    )
    assert send(editor, f"/borrow-requests/{request_id}/grant", {}).status_code == 302
    assert _request_status(store, request_id) == "granted"
    # Answering twice changes nothing.
    assert send(editor, f"/borrow-requests/{request_id}/decline", {}).status_code == 302
    assert _request_status(store, request_id) == "granted"

    assert asker.get(url).status_code == 200
    page = asker.get(f"/entries/{world.ask_first}").get_data(as_text=True)
    assert "Borrow this" in page and "Ask to borrow" not in page
    form = _borrow_form(store, world.ask_first, asker, "Changed officers to clinicians.")
    assert send(asker, url, form).status_code == 302
    fresh(store)
    made = store.scalar(
        select(Borrow).where(
            Borrow.source_id == entry_by_slug(store, world.ask_first, refresh=False).id
        )
    )
    assert made.licence == "ask-first" and made.entry.licence == "ask-first"
    assert made.entry.organisation_id == world.orgs["borrower"]
    # A colleague's organisation still has to ask: permission was given to BORROWER only.
    other = signed_in(catalogue_app, *world.people["member-other"][:2])
    assert _outcome(other.get(url)) == ASK


def test_a_declined_request_leaves_the_entry_ask_first(catalogue_app, store, world):
    editor = signed_in(catalogue_app, *world.people["editor-own"][:2])
    assert send(editor, f"/borrow-requests/{world.request}/decline", {}).status_code == 302
    assert _request_status(store, world.request) == "declined"
    other = signed_in(catalogue_app, *world.people["member-other"][:2])
    fresh(store)
    slug = store.get(BorrowRequest, world.request).entry.slug
    assert _outcome(other.get(f"/entries/{slug}/borrow")) == ASK
    form = _borrow_form(store, slug, other, "Trying anyway.")
    assert _outcome(send(other, f"/entries/{slug}/borrow", form)) == ASK
    assert _copies_made(store, slug) == []
