"""Registration, approvals, the account page, demo accounts and the kb commands that make users.

Database work happens in its own short app context: the shared ``session`` fixture keeps an app
context open that requests would reuse, so Flask-Login's cached user would leak between clients.
"""

from __future__ import annotations

import html
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.accounts.passwords import check_password
from kb.db import db
from kb.models import Organisation, OrganisationRequest, User
from tests.web import csrf_token, sign_in, summary_links, text

PASSWORD = "plum kettle saxophone"
EMAIL = "sam.patel@eastmarch.example"
FORM = {
    "email": "Sam.Patel@Eastmarch.example",
    "display_name": "Sam Patel, comms officer",
    "password": PASSWORD,
    "confirm": PASSWORD,
    "organisation": "eastmarch-police",
    "new_name": "",
    "new_sector": "",
    "new_website": "",
}
NEW_ORG = {"organisation": "new", "new_name": "Northfell Water Board", "new_sector": "housing"}
EDITOR = "editor@eastmarch-police.example"
MEMBER = "member@eastmarch-police.example"


@contextmanager
def database(app):
    """The app's database session, in an app context of its own."""
    with app.app_context():
        yield db.session


def rows(app, statement) -> list:
    with database(app) as session:
        return list(session.scalars(statement))


def one(app, statement):
    found = rows(app, statement)
    assert len(found) == 1, found
    return found[0]


def count(app, model) -> int:
    with database(app) as session:
        return session.scalar(select(func.count()).select_from(model))


def submit(client, url: str, data: dict | None = None, *, page: str = "/account"):
    """POST ``data`` with a CSRF token read from ``page`` (the login page redirects once in)."""
    return client.post(url, data={"csrf_token": csrf_token(client, page), **(data or {})})


def register(client, **changes):
    return submit(client, "/register", {**FORM, **changes}, page="/register")


def signed_in(client) -> bool:
    """Whether ``client`` may open its account page (if not, it is sent to sign in)."""
    response = client.get("/account")
    if response.status_code == 302:
        assert response.location.startswith("/login?next=")
        return False
    assert response.status_code == 200
    return True


def control(page: str, field_id: str) -> str:
    """The opening tag of the form control with ``field_id``."""
    tags = re.findall(rf'<(?:input|select)\b[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    assert len(tags) == 1, f"{field_id}: {tags}"
    return tags[0]


# Registration ----------------------------------------------------------------------------------


def test_register_into_an_organisation_then_an_editor_approves(catalogue_app, client):
    response = register(client)
    assert response.status_code == 302 and response.location == "/check-your-email"
    assert not signed_in(client)  # the page says to check email, for new and old addresses
    assert sign_in(client, EMAIL, PASSWORD).status_code == 302
    user = one(catalogue_app, select(User).where(User.email == EMAIL))
    assert (
        user.display_name == FORM["display_name"] and user.organisation.slug == "eastmarch-police"
    )
    assert user.role == "member" and user.approved_at is None and not user.is_demo
    assert check_password(user.password_hash, PASSWORD) and PASSWORD not in user.password_hash
    account = client.get("/account")
    assert account.status_code == 200
    assert "waiting for an editor of Eastmarch Police to approve you" in text(account)
    assert client.get("/entries/new").status_code == 403

    members_page = "/orgs/eastmarch-police/members"
    approve = f"/orgs/eastmarch-police/members/{user.id}/approve"
    outsiders = [catalogue_app.test_client(), catalogue_app.test_client()]
    sign_in(outsiders[0], MEMBER, DEMO_PASSWORD)  # a member, not an editor
    sign_in(outsiders[1], "editor@strathbeck-council.example", DEMO_PASSWORD)
    for outsider in outsiders:
        assert outsider.get(members_page).status_code == 403
        assert submit(outsider, approve).status_code == 403
    assert client.get("/entries/new").status_code == 403

    editor = catalogue_app.test_client()
    sign_in(editor, EDITOR, DEMO_PASSWORD)
    pending, _, approved = text(editor.get(members_page)).partition('id="approved-heading"')
    assert EMAIL in pending and EMAIL not in approved
    assert submit(editor, approve, page=members_page).status_code == 302
    pending, _, approved = text(editor.get(members_page)).partition('id="approved-heading"')
    assert EMAIL not in pending and EMAIL in approved
    assert one(catalogue_app, select(User).where(User.email == EMAIL)).approved_at is not None
    assert client.get("/entries/new").status_code == 200


def _request_new_organisation(app, client) -> OrganisationRequest:
    response = register(client, **NEW_ORG, new_website="https://northfell.example.org")
    assert response.status_code == 302
    assert sign_in(client, EMAIL, PASSWORD).status_code == 302
    with database(app) as session:
        request = session.scalars(select(OrganisationRequest)).one()
        assert request.name == "Northfell Water Board" and request.sector.slug == "housing"
        assert request.website == "https://northfell.example.org" and request.status == "pending"
        assert request.requester.email == EMAIL
    user = one(app, select(User).where(User.email == EMAIL))
    assert user.organisation_id is None and user.approved_at is None and user.role == "member"
    assert "You asked for Northfell Water Board to be added" in text(client.get("/account"))
    assert client.get("/entries/new").status_code == 403
    return request


def test_admin_approves_a_new_organisation_and_the_requester_edits_it(catalogue_app, client):
    request = _request_new_organisation(catalogue_app, client)
    editor = catalogue_app.test_client()
    sign_in(editor, EDITOR, DEMO_PASSWORD)
    assert submit(editor, f"/admin/requests/{request.id}/approve").status_code == 403
    admin = catalogue_app.test_client()
    sign_in(admin, ADMIN_EMAIL, DEMO_PASSWORD)
    assert "Northfell Water Board" in text(admin.get("/admin"))
    assert submit(admin, f"/admin/requests/{request.id}/approve").status_code == 302

    with database(catalogue_app) as session:
        organisation = session.scalars(
            select(Organisation).where(Organisation.name == "Northfell Water Board")
        ).one()
        assert organisation.sector.slug == "housing" and not organisation.is_sample
        assert organisation.website == "https://northfell.example.org"
    user = one(catalogue_app, select(User).where(User.email == EMAIL))
    assert user.organisation_id == organisation.id and user.role == "editor"
    assert user.approved_at is not None
    decided = one(catalogue_app, select(OrganisationRequest))
    assert decided.status == "approved" and decided.organisation_id == organisation.id
    assert decided.decided_at is not None
    assert "No requests are waiting." in text(admin.get("/admin"))
    assert client.get("/entries/new").status_code == 200
    assert client.get(f"/orgs/{organisation.slug}/members").status_code == 200


def test_admin_declines_a_new_organisation(catalogue_app, client):
    organisations = count(catalogue_app, Organisation)
    request = _request_new_organisation(catalogue_app, client)
    admin = catalogue_app.test_client()
    sign_in(admin, ADMIN_EMAIL, DEMO_PASSWORD)
    assert submit(admin, f"/admin/requests/{request.id}/decline").status_code == 302
    assert count(catalogue_app, Organisation) == organisations
    decided = one(catalogue_app, select(OrganisationRequest))
    assert decided.status == "declined" and decided.decided_at is not None
    assert decided.organisation_id is None
    user = one(catalogue_app, select(User).where(User.email == EMAIL))
    assert user.organisation_id is None and user.role == "member" and user.approved_at is None
    assert "You asked for" not in text(client.get("/account"))
    assert client.get("/entries/new").status_code == 403
    assert submit(admin, f"/admin/requests/{request.id}/approve").status_code == 404
    assert count(catalogue_app, Organisation) == organisations


INVALID = [
    pytest.param(
        {"email": "", "display_name": "", "password": "", "confirm": "", "organisation": ""},
        {
            "email": "Enter your email address",
            "display_name": "Enter the name other people will see",
            "password": "Enter a password",
            "confirm": "Enter the password again",
            "organisation": "Choose your organisation, or ask for a new one",
        },
        id="missing-fields",
    ),
    pytest.param({"email": "sam.patel at eastmarch"}, {"email": "like name@"}, id="bad-email"),
    pytest.param({"password": "short words", "confirm": "short words"},
                 {"password": "at least 12 characters"}, id="too-short"),
    pytest.param({"password": "Password1234", "confirm": "Password1234"},
                 {"password": "too easy to guess"}, id="common"),
    pytest.param({"password": "aaaaaaaaaaaaaaaa", "confirm": "aaaaaaaaaaaaaaaa"},
                 {"password": "too easy to guess"}, id="one-letter"),
    pytest.param({"password": "call sam.patel today", "confirm": "call sam.patel today"},
                 {"password": "must not contain your email"}, id="contains-email"),
    pytest.param({"display_name": "Sam Patel", "password": "i am sam patel!",
                  "confirm": "i am sam patel!"},
                 {"password": "must not contain your name"}, id="contains-name"),
    pytest.param({"confirm": PASSWORD + "s"}, {"confirm": "The two passwords do not match"},
                 id="confirm-mismatch"),
    pytest.param({"organisation": "new", "new_sector": "housing"},
                 {"organisation": "enter its name",
                  "new_name": "Enter the name of your organisation"},
                 id="new-organisation-without-name"),
    pytest.param({"organisation": "new", "new_name": "Northfell Water Board"},
                 {"organisation": "choose its sector",
                  "new_sector": "Choose your organisation's sector"},
                 id="new-organisation-without-sector"),
    pytest.param({**NEW_ORG, "new_website": "northfell dot org"},
                 {"new_website": "Enter a web address starting https://"}, id="bad-website"),
]  # fmt: skip


@pytest.mark.parametrize("changes, errors", INVALID)
def test_registration_errors_are_explained_and_nothing_is_saved(
    catalogue_app, client, changes, errors
):
    users, requests = count(catalogue_app, User), count(catalogue_app, OrganisationRequest)
    submitted = {**FORM, **changes}
    response = register(client, **changes)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<title>Error: " in page
    links = summary_links(page)
    assert set(links) == set(errors)
    for field_id, message in errors.items():
        assert message in html.unescape(links[field_id])
        assert 'aria-invalid="true"' in control(page, field_id)
        assert f"{field_id}-error" in control(page, field_id)
        beside = re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', page)
        assert beside and message in html.unescape(beside.group(1))
    for field_id in ("email", "display_name", "new_name", "new_website"):
        value = html.escape(submitted[field_id], quote=True)
        assert f'value="{value}"' in control(page, field_id)
    for field_id in ("organisation", "new_sector"):
        if submitted[field_id]:
            assert f'<option selected value="{submitted[field_id]}">' in page
    for secret in {submitted["password"], submitted["confirm"]} - {""}:
        assert secret not in page and html.escape(secret) not in page
    assert 'value=""' in control(page, "password") and 'value=""' in control(page, "confirm")
    assert count(catalogue_app, User) == users
    assert count(catalogue_app, OrganisationRequest) == requests
    assert not signed_in(client)


# The account page: display name ----------------------------------------------------------------


def test_change_display_name(catalogue_app, client):
    sign_in(client, MEMBER, DEMO_PASSWORD)
    response = submit(client, "/account/name", {"display_name": "  Sam P, Eastmarch comms  "})
    assert response.status_code == 302 and response.location == "/account"
    user = one(catalogue_app, select(User).where(User.email == MEMBER))
    assert user.display_name == "Sam P, Eastmarch comms"
    assert "Your display name has been changed." in text(client.get("/account"))


@pytest.mark.parametrize(
    "name, message",
    [("", "Enter the name other people will see"), ("   ", "Enter the name other people"),
     ("x" * 121, "120 characters")],
)  # fmt: skip
def test_display_name_errors(catalogue_app, client, name, message):
    sign_in(client, MEMBER, DEMO_PASSWORD)
    before = one(catalogue_app, select(User).where(User.email == MEMBER)).display_name
    response = submit(client, "/account/name", {"display_name": name})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    links = summary_links(page)
    assert list(links) == ["display_name"] and message in html.unescape(links["display_name"])
    assert 'aria-invalid="true"' in control(page, "display_name")
    assert one(catalogue_app, select(User).where(User.email == MEMBER)).display_name == before


# Demo accounts and the kb command ---------------------------------------------------------------


ROLES = ("editor", "member")


def _demo_emails(app) -> list[str]:
    slugs = rows(app, select(Organisation.slug).where(Organisation.is_sample))
    assert len(slugs) >= 10
    return [ADMIN_EMAIL] + [f"{role}@{slug}.example" for slug in slugs for role in ROLES]


def test_init_creates_and_prints_the_demo_accounts_once(app, runner):
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    emails = _demo_emails(app)
    assert f"demo accounts: {len(emails)} added" in first.output
    with database(app) as session:
        users = {user.email: user for user in session.scalars(select(User))}
        assert sorted(users) == sorted(emails)
        assert users[ADMIN_EMAIL].role == "admin" and users[ADMIN_EMAIL].organisation is None
        for email, user in users.items():
            assert user.is_demo and user.approved_at is not None
            assert check_password(user.password_hash, DEMO_PASSWORD)
            if email != ADMIN_EMAIL:
                role, _, rest = email.partition("@")
                assert user.role == role and user.organisation.slug == rest.removesuffix(".example")
    again = runner.invoke(args=["init"])
    assert again.exit_code == 0, again.output
    assert "demo accounts:" not in again.output
    assert count(app, User) == len(emails)
    for output in (first.output, again.output):
        assert f"all with the password: {DEMO_PASSWORD}" in output
        for email in emails:
            assert re.search(rf"^  {re.escape(email)}\s", output, re.M), email
    assert sign_in(app.test_client(), ADMIN_EMAIL, DEMO_PASSWORD).status_code == 302


@pytest.mark.parametrize("flag", ["--no-demo", "--no-sample"])
def test_init_without_demo_or_sample_creates_no_accounts(app, runner, flag):
    result = runner.invoke(args=["init", flag])
    assert result.exit_code == 0, result.output
    assert count(app, User) == 0
    assert DEMO_PASSWORD not in result.output
    assert (count(app, Organisation) > 0) == (flag == "--no-demo")


@pytest.mark.parametrize(
    "password, problem",
    [
        ("short words", "at least 12 characters"),
        ("password1234", "too easy to guess"),
        ("comms-lead rocks", "must not contain your email"),
        ("i am jo bloggs, ok", "must not contain your name"),
        ("violet harbour lantern", None),
    ],
)
def test_create_user_refuses_a_weak_password(catalogue_app, password, problem):
    args = ["create-user", "--email", "Comms-Lead@example.org", "--name", "Jo Bloggs", "--admin"]
    result = catalogue_app.test_cli_runner().invoke(args=[*args, "--password", password])
    created = rows(catalogue_app, select(User).where(User.email == "comms-lead@example.org"))
    if problem is None:  # the control: a good password is accepted
        assert result.exit_code == 0, result.output
        assert len(created) == 1 and check_password(created[0].password_hash, password)
    else:
        assert result.exit_code == 2 and problem in result.output
        assert created == []
