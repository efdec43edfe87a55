"""CSRF protection on every state-changing route, and the check on ``next`` redirects.

The routes come from ``app.url_map``, so a new POST (PUT, PATCH, DELETE) route is covered
without editing this file; one whose URL has an argument this file cannot fill fails the test
and says what to add. Requests are made signed in as the site admin, so a missing CSRF check
cannot hide behind a refusal to authorise.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from werkzeug.routing import Map, Rule

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.accounts.recovery import reset_token
from kb.borrowing.services import adopt, ask_to_borrow, borrow
from kb.db import Base, db, utcnow
from kb.entries.content import current_content
from kb.entries.editing import save_edit
from kb.follows.services import follow
from kb.licences import DEFAULT_LICENCE
from kb.models import (
    Entry,
    FollowKind,
    Notification,
    Organisation,
    OrganisationRequest,
    Sector,
    User,
)
from kb.notifications.outbox import unsubscribe_token
from kb.security import safe_next
from tests.factories import TEST_PASSWORD, make_entry, make_user
from tests.web import csrf_token, sign_in

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_MESSAGE = "This form had expired"  # kb/errors.py's page for a CSRFError
ORGANISATION = "eastmarch-police"
NOT_SNAPSHOTTED = {"user_sessions", "login_throttles"}  # signing in writes these

# (blueprint, URL argument) -> key of the ``known`` fixture giving a real value for it.
ARGUMENTS = {
    ("entries", "slug"): "entry",
    ("entries", "number"): "revision",
    ("orgs", "slug"): "organisation",
    ("orgs", "user_id"): "pending_member",
    ("admin", "user_id"): "member",
    ("admin", "request_id"): "request",
    ("admin", "kind"): "term_kind",
    ("admin", "slug"): "term",
    ("accounts", "token"): "reset_token",
    ("borrowing", "request_id"): "borrow_request",
    ("borrowing.borrow_entry", "slug"): "entry",
    ("borrowing.adopt_entry", "slug"): "entry",
    ("borrowing.withdraw", "slug"): "adopted_entry",
    ("borrowing.ask", "slug"): "ask_first_entry",
    ("borrowing.merge", "slug"): "copy",
    ("borrowing.dismiss", "slug"): "copy",
    ("follows", "follow_id"): "follow",
    ("notifications", "notification_id"): "notification",
    ("notifications", "token"): "unsubscribe_token",
}
# Routes that check something else instead of a CSRF token, and why.
CSRF_EXEMPT = {
    # The signed token in its URL says whose emails stop; mail programs' one-click unsubscribe
    # (RFC 8058) posts to it with no session and no form. Tested in test_notification_pages.py.
    "notifications.unsubscribe",
}
# Borrowing is done by members of another organisation than the owner's; the admins making
# those requests belong to this one.
BORROWER = "harrowdale-constabulary"
# The state an entry must be in for these routes to succeed (published for the others).
ENTRY_STATUS = {"entries.publish": "draft", "entries.restore": "archived"}
ENTRY_FORM = {
    "title": "Changed",
    "summary": "Changed.",
    "body": "## Context\n\nChanged.",
    "channels": ["x-twitter"],
    "licence": DEFAULT_LICENCE,
    "action": "save",
}
NEW_PASSWORD = "purple tractor seventeen lanterns"


def form_data(endpoint: str, email: str, password: str) -> dict:
    """Data that makes a request by ``email`` succeed (were its CSRF check missing)."""
    return {
        "accounts.login": {"email": email, "password": password},
        "accounts.change_name": {"display_name": "Renamed admin"},
        "accounts.forgot_password": {"email": email},
        "accounts.reset_password": {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        "accounts.change_password": {
            "current": password,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        # An earlier request retitled an entry "Changed"; this one is saved despite the likeness.
        "entries.new": {"kind": "guidance", "similar_dismissed": "1", **ENTRY_FORM},
        "entries.edit": {"base_revision": "2", **ENTRY_FORM},
        "entries.revert_to": {"base_revision": "2"},
        "admin.set_role": {"role": "editor"},
        "admin.new_term": {"name": "Carrier pigeons"},
        "admin.edit_term": {"name": "Renamed channel"},
        "orgs.edit": {"name": "Renamed organisation"},
        "borrowing.borrow_entry": {
            "kind": "guidance",
            "source_revision": "2",
            "note": "Adapted for us.",
            **ENTRY_FORM,
            "action": "draft",
        },
        "borrowing.merge": {"base_revision": "1", "upstream_revision": "2", **ENTRY_FORM},
        "borrowing.ask": {"message": "May we adapt this?"},
        "follows.toggle": {"kind": "sector", "target": "police"},
        "notifications.preferences": {"frequency": "daily"},
    }.get(endpoint, {})


def state_changing_routes(app) -> list[tuple[Rule, str]]:
    """(rule, method) for every rule accepting a state-changing method."""
    found = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods & STATE_CHANGING)
        if rule.endpoint not in CSRF_EXEMPT
    ]
    return sorted(found, key=lambda pair: (pair[0].rule, pair[1]))


def url_values(rule: Rule, known: dict) -> dict:
    """Real values for the rule's URL arguments; fails on an argument it does not know."""
    if rule.map is None:
        Map([rule])  # binding a rule is what parses its arguments
    blueprint = rule.endpoint.partition(".")[0]
    values = {}
    for name in sorted(rule.arguments):
        key = ARGUMENTS.get((rule.endpoint, name), ARGUMENTS.get((blueprint, name)))
        if key is None:
            pytest.fail(
                f"{rule.rule} ({rule.endpoint}) has the URL argument {name!r}, which "
                f"tests/test_csrf.py cannot fill: add ({blueprint!r}, {name!r}) to ARGUMENTS"
            )
        values[name] = known[key]
    return values


def real_values(app, entry_status: str = "published", email: str = ADMIN_EMAIL) -> dict:
    """A fresh, committed, real value for every kind of URL argument (a follow and a
    notification belong to the person with ``email``)."""
    with app.app_context():
        session = db.session
        person = session.scalar(select(User).where(User.email == email))
        followed = follow(session, person, FollowKind.TOPIC, target_id=1)
        notification = Notification(user_id=person.id, event="approved", actor="Span")
        session.add(notification)
        organisation = session.scalar(select(Organisation).where(Organisation.slug == ORGANISATION))
        entry = make_entry(session, organisation, status=entry_status)
        content = replace(current_content(entry), title="Second title")
        save_edit(
            session, entry, author=None, content=content, base=1, edit_summary="", now=utcnow()
        )
        requester = make_user(session, None, approved=False)
        request = OrganisationRequest(
            requester=requester,
            name="Requested Council",
            sector=session.scalar(select(Sector).where(Sector.slug == "police")),
        )
        session.add(request)
        member = session.scalar(select(User).where(User.email == f"member@{ORGANISATION}.example"))
        borrowing = _borrowing_values(session, organisation, entry)
        values = {
            "entry": entry.slug,
            "revision": 1,
            "organisation": ORGANISATION,
            "pending_member": make_user(session, organisation, approved=False).id,
            "member": member.id,
            "term_kind": "channels",
            "term": "qr-codes",
            "reset_token": reset_token(app.config["SECRET_KEY"], member),
            "follow": followed.id,
            "unsubscribe_token": unsubscribe_token(app, member.id),
        }
        session.commit()
        values["notification"] = notification.id
        return values | {"request": request.id} | borrowing


def _borrowing_values(session, owner: Organisation, entry: Entry) -> dict:
    """An "ask first" entry with a pending request, an adoption and a copy of ``entry`` made
    before its second revision (so the copy has changes to merge), all by ``BORROWER``."""
    borrower = session.scalar(select(Organisation).where(Organisation.slug == BORROWER))
    now = utcnow()
    ask_first = make_entry(session, owner, licence="ask-first")
    request = ask_to_borrow(
        session, ask_first, organisation=borrower, user=None, message="Please?", now=now
    )
    adopted = make_entry(session, owner)
    adopt(session, adopted, organisation=borrower, user=None, note="", now=now)
    source = make_entry(session, owner)
    copy = borrow(
        session, source, organisation=borrower, author=None, content=current_content(source),
        source_revision=1, note="Ours now.", status="published", now=now,
    )  # fmt: skip
    content = replace(current_content(source), body="## Context\n\nUpdated upstream.")
    save_edit(session, source, author=None, content=content, base=1, edit_summary="", now=now)
    return {
        "ask_first_entry": ask_first.slug,
        "borrow_request": request.id,
        "adopted_entry": adopted.slug,
        "copy": copy.slug,
    }


@pytest.fixture
def known(catalogue_app) -> dict:
    return real_values(catalogue_app)


def _snapshot(app) -> dict:
    """Every row of every table the app writes through its forms."""
    with app.app_context():
        return {
            table.name: sorted(map(tuple, db.session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name not in NOT_SNAPSHOTTED
        }


def _admin_client(app, email: str = ADMIN_EMAIL, password: str = DEMO_PASSWORD):
    client = app.test_client()
    response = sign_in(client, email, password)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    return client


def _refused(response) -> bool:
    return response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True)


def test_state_changing_routes_are_found(catalogue_app):
    routes = {(rule.rule, method) for rule, method in state_changing_routes(catalogue_app)}
    for expected in ("/login", "/logout", "/entries/<slug>/edit", "/entries/<slug>/publish"):
        assert (expected, "POST") in routes
    assert ("/entries/<slug>", "POST") not in routes  # reading is not state-changing


def test_unknown_url_argument_fails_with_a_clear_message(known):
    rule = Rule("/widgets/<int:widget_id>/delete", endpoint="widgets.delete", methods=["POST"])
    with pytest.raises(pytest.fail.Exception, match=r"'widget_id'.*add \('widgets'"):
        url_values(rule, known)
    rule = Rule("/things/<slug>/delete", endpoint="things.delete", methods=["POST"])
    with pytest.raises(pytest.fail.Exception, match="'slug'"):
        url_values(rule, known)


def test_every_state_changing_route_refuses_a_missing_or_foreign_token(catalogue_app, known):
    routes = state_changing_routes(catalogue_app)
    assert len(routes) >= 10
    foreign = csrf_token(catalogue_app.test_client(), "/login")  # valid, for another session
    failures = []
    for rule, method in routes:
        url = rule.build(url_values(rule, known), append_unknown=False)[1]
        data = form_data(rule.endpoint, ADMIN_EMAIL, DEMO_PASSWORD)
        for label, token in (("no token", None), ("another session's token", foreign)):
            client = _admin_client(catalogue_app)
            sent = data if token is None else {**data, "csrf_token": token}
            before = _snapshot(catalogue_app)
            response = client.open(url, method=method, data=sent)
            if not _refused(response):
                failures.append(f"{method} {url} with {label}: {response.status_code}")
            if _snapshot(catalogue_app) != before:
                failures.append(f"{method} {url} with {label}: the database changed")
            if client.get("/account").status_code != 200:
                failures.append(f"{method} {url} with {label}: the admin was signed out")
    assert not failures, "Accepted without a valid CSRF token:\n" + "\n".join(failures)


def test_the_same_requests_succeed_with_a_valid_token(catalogue_app, known):
    """The control: the refusals above are the CSRF check, not the data or the permissions."""
    client = _admin_client(catalogue_app)
    edit, data = f"/entries/{known['entry']}/edit", form_data("entries.edit", "", "")
    assert _refused(client.post(edit, data=data))
    token = csrf_token(client, "/account")
    response = client.post(edit, data={**data, "csrf_token": token})
    assert response.status_code == 302
    with catalogue_app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == known["entry"]))
        assert (entry.title, entry.current_revision_number) == ("Changed", 3)
    assert _refused(client.post("/logout"))
    assert client.get("/account").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/account").status_code == 302  # signed out now


def test_every_route_accepts_a_valid_token(catalogue_app):
    """Each route, given a valid token, gets past the CSRF check and does its work. Each gets
    fresh values and an admin of its own (a password change or signing out ends sessions)."""
    routes = state_changing_routes(catalogue_app)
    with catalogue_app.app_context():
        borrower = db.session.scalar(select(Organisation).where(Organisation.slug == BORROWER))
        emails = [
            make_user(db.session, borrower if rule.endpoint.startswith("borrowing.") else None,
                      role="admin").email
            for rule, _method in routes
        ]  # fmt: skip
        db.session.commit()
    outcomes = []
    for (rule, method), email in zip(routes, emails, strict=True):
        client = _admin_client(catalogue_app, email, TEST_PASSWORD)
        known = real_values(catalogue_app, ENTRY_STATUS.get(rule.endpoint, "published"), email)
        url = rule.build(url_values(rule, known), append_unknown=False)[1]
        data = form_data(rule.endpoint, email, TEST_PASSWORD)
        data["csrf_token"] = csrf_token(client, "/account")
        outcomes.append((f"{method} {url}", client.open(url, method=method, data=data)))
    rejected = [f"{name}: {r.status_code}" for name, r in outcomes if _refused(r)]
    assert not rejected, "Refused despite a valid CSRF token:\n" + "\n".join(rejected)
    # Given the data above, every one of them succeeds and redirects (no 400, 403 or 404).
    failed = [f"{name}: {r.status_code}" for name, r in outcomes if r.status_code != 302]
    assert not failed, "\n".join(failed)


# --- next= redirects --------------------------------------------------------------------------

OFF_SITE = [
    "https://evil.example",
    "http://evil.example/account",
    "HTTPS://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil",
    "\\/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    " //evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: a=b",
    "/\x00/evil.example",
    "https:/evil.example",
    "",
]
ON_SITE = [
    "/",
    "/account",
    "/entries/some-entry/edit",
    "/sectors/police?channel=x-twitter&page=2",
    "/orgs/eastmarch-police/members#pending",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_next_refuses_other_sites(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ON_SITE)
def test_safe_next_keeps_paths_on_this_site(target):
    assert safe_next(target) == target


def test_safe_next_refuses_nothing_given():
    assert safe_next(None) is None


@pytest.mark.parametrize(
    ("target", "expected"), [(t, "/account") for t in OFF_SITE] + [(t, t) for t in ON_SITE]
)
def test_login_follows_only_same_site_next(catalogue_app, target, expected):
    client = catalogue_app.test_client()
    data = {"csrf_token": csrf_token(client), "email": ADMIN_EMAIL, "password": DEMO_PASSWORD}
    response = client.post("/login", query_string={"next": target}, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == expected
    # Already signed in, the sign-in page sends people on the same way.
    response = client.get("/login", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == expected
