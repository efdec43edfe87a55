"""Admins add and rename taxonomy terms; an organisation's editors (and admins) edit its public
profile, whose website and contact can only ever be http(s) or email links."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select, update

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.models import Channel, Entry, Organisation, OrganisationRequest, Sector, Topic, User
from tests.editor_support import fresh
from tests.web import csrf_token, sign_in, summary_links, text

ORG = "eastmarch-police"
OTHER = "harrowdale-constabulary"
EDITOR, MEMBER = f"editor@{ORG}.example", f"member@{ORG}.example"
OTHER_EDITOR = f"editor@{OTHER}.example"
MODELS = {"sectors": Sector, "channels": Channel, "topics": Topic}
PROFILE = {
    "name": "Eastmarch Police Service",
    "region": "North of Scotland",
    "website": "https://www.eastmarch.example.org/about",
    "contact": "press.office@eastmarch.example.org",
    "description": "Our new description, written by our editor.",
}


def client_for(app, email: str | None):
    client = app.test_client()
    if email:
        assert sign_in(client, email, DEMO_PASSWORD).status_code == 302
    return client


def send(client, url: str, data: dict):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert found, f"no error beside {field}"
    return re.sub(r"<[^>]+>", "", found.group(1)).replace("Error: ", "").strip()


def terms(store, kind: str) -> list:
    fresh(store)
    model = MODELS[kind]
    return list(store.scalars(select(model).order_by(model.position, model.id)))


def organisation(store, slug: str = ORG) -> Organisation:
    fresh(store)
    return store.scalar(select(Organisation).where(Organisation.slug == slug))


# Taxonomy --------------------------------------------------------------------------------------

TAXONOMY_URLS = ["/admin/taxonomy", "/admin/taxonomy/channels/new", "/admin/taxonomy/topics/new",
                 "/admin/taxonomy/sectors/police", "/admin/taxonomy/channels/facebook"]  # fmt: skip


@pytest.mark.parametrize("url", TAXONOMY_URLS)
def test_only_admins_reach_the_taxonomy_pages(catalogue_app, url):
    anonymous = client_for(catalogue_app, None).get(url)
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")
    if url != "/admin/taxonomy":  # a form: posting signed out asks to sign in again
        posted = send(client_for(catalogue_app, None), url, {"name": "Anonymous"})
        assert posted.status_code == 401
    for email in (MEMBER, EDITOR):
        assert client_for(catalogue_app, email).get(url).status_code == 403, email
    assert client_for(catalogue_app, ADMIN_EMAIL).get(url).status_code == 200


def test_non_admins_cannot_add_or_rename_terms(catalogue_app, store):
    before = [(t.slug, t.name) for t in terms(store, "channels")]
    for email in (MEMBER, EDITOR):
        client = client_for(catalogue_app, email)
        assert send(client, "/admin/taxonomy/channels/new", {"name": "Mastodon"}).status_code == 403
        renamed = send(client, "/admin/taxonomy/channels/facebook", {"name": "Meta"})
        assert renamed.status_code == 403
    assert [(t.slug, t.name) for t in terms(store, "channels")] == before


@pytest.mark.parametrize("kind", MODELS)
def test_adding_a_term_gives_it_a_unique_slug_and_the_last_position(catalogue_app, store, kind):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    existing = terms(store, kind)
    name = existing[0].name  # the same name as an existing term: a new slug all the same
    data = {"name": f"  {name}  ", "description": "A second one."}
    response = send(admin, f"/admin/taxonomy/{kind}/new", data)
    assert response.status_code == 302 and response.location == "/admin/taxonomy"
    after = terms(store, kind)
    assert len(after) == len(existing) + 1
    added = after[-1]
    assert added.slug == f"{existing[0].slug}-2" and added.name == name
    assert added.description == "A second one."
    assert added.position == max(t.position for t in existing) + 1
    assert "Added the" in text(admin.get("/admin/taxonomy"))
    listed = text(admin.get(f"/{kind}"))
    assert f'href="/{kind}/{added.slug}"' in listed
    assert admin.get(f"/{kind}/{added.slug}").status_code == 200


def test_a_new_channel_appears_on_the_channels_page(catalogue_app, store):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    send(admin, "/admin/taxonomy/channels/new", {"name": "Mastodon & the Fediverse"})
    assert terms(store, "channels")[-1].slug == "mastodon-the-fediverse"
    page = text(client_for(catalogue_app, None).get("/channels"))
    assert "Mastodon & the Fediverse" in page and 'href="/channels/mastodon-the-fediverse"' in page


def test_renaming_a_term_never_changes_its_slug(catalogue_app, store):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    form = text(admin.get("/admin/taxonomy/channels/facebook"))
    assert 'value="Facebook"' in form
    data = {"name": "Facebook and Messenger", "description": "Posts, groups and pages."}
    response = send(admin, "/admin/taxonomy/channels/facebook", data)
    assert response.status_code == 302 and response.location == "/admin/taxonomy"
    fresh(store)
    term = store.scalar(select(Channel).where(Channel.name == "Facebook and Messenger"))
    assert term.slug == "facebook" and term.description == "Posts, groups and pages."
    assert store.scalar(select(func.count(Channel.id)).where(Channel.slug.like("facebook%"))) == 1
    page = text(admin.get("/channels/facebook"))
    assert "Facebook and Messenger" in page


@pytest.mark.parametrize(
    ("name", "message"), [("   ", "Enter a name"), ("x" * 121, "120 characters")]
)
@pytest.mark.parametrize("url", ["/admin/taxonomy/topics/new", "/admin/taxonomy/topics/evaluation"])
def test_invalid_term_names_are_refused_and_kept(catalogue_app, store, url, name, message):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    before = [(t.slug, t.name, t.description) for t in terms(store, "topics")]
    response = send(admin, url, {"name": name, "description": "Kept for the next try."})
    assert response.status_code == 400
    page = text(response)
    links = summary_links(page)
    assert list(links) == ["name"] and message in links["name"]
    assert message in field_error(page, "name") and "<title>Error: " in page
    assert 'aria-invalid="true"' in re.search(r'<input[^>]*id="name"[^>]*>', page).group(0)
    if name.strip():
        assert f'value="{name}"' in page
    assert "Kept for the next try.</textarea>" in page
    assert [(t.slug, t.name, t.description) for t in terms(store, "topics")] == before


@pytest.mark.parametrize("url", ["/admin/taxonomy/regions/new", "/admin/taxonomy/regions/police",
                                 "/admin/taxonomy/channels/no-such-channel",
                                 "/admin/taxonomy/sectors/facebook"])  # fmt: skip
def test_unknown_kinds_and_slugs_are_not_found(catalogue_app, url):
    admin = client_for(catalogue_app, ADMIN_EMAIL)
    assert admin.get(url).status_code == 404
    assert send(admin, url, {"name": "Anything"}).status_code == 404


# Organisation profiles -------------------------------------------------------------------------


@pytest.mark.parametrize(("email", "status"), [(EDITOR, 200), (ADMIN_EMAIL, 200),
                                               (MEMBER, 403), (OTHER_EDITOR, 403)])  # fmt: skip
def test_who_may_edit_an_organisation_profile(catalogue_app, store, email, status):
    client = client_for(catalogue_app, email)
    assert client.get(f"/orgs/{ORG}/edit").status_code == status
    response = send(client, f"/orgs/{ORG}/edit", {**PROFILE, "name": f"Renamed by {email}"})
    assert response.status_code == (302 if status == 200 else 403)
    saved = organisation(store).name == f"Renamed by {email}"
    assert saved is (status == 200)
    shown = text(client.get(f"/orgs/{ORG}"))
    assert (f'href="/orgs/{ORG}/edit"' in shown) is (status == 200)


def test_anonymous_visitors_are_sent_to_sign_in(catalogue_app, store):
    client = client_for(catalogue_app, None)
    response = client.get(f"/orgs/{ORG}/edit")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert send(client, f"/orgs/{ORG}/edit", PROFILE).status_code == 401  # "sign in again"
    assert organisation(store).name == "Eastmarch Police"
    assert client_for(catalogue_app, ADMIN_EMAIL).get("/orgs/nowhere/edit").status_code == 404


def test_saved_profile_appears_on_the_organisation_page(catalogue_app, store):
    editor = client_for(catalogue_app, EDITOR)
    form = text(editor.get(f"/orgs/{ORG}/edit"))
    assert 'value="https://eastmarch-police.example.org"' in form
    response = send(editor, f"/orgs/{ORG}/edit", {k: f" {v} " for k, v in PROFILE.items()})
    assert response.status_code == 302 and response.location == f"/orgs/{ORG}"
    stored = organisation(store)
    assert {name: getattr(stored, name) for name in PROFILE} == PROFILE
    assert stored.slug == ORG
    page = text(editor.get(f"/orgs/{ORG}"))
    assert "The organisation's profile has been saved." in page
    for value in ("Eastmarch Police Service", "North of Scotland", PROFILE["description"]):
        assert value in page
    assert f'<a href="{PROFILE["website"]}" rel="nofollow noopener">' in page
    assert f'<a href="mailto:{PROFILE["contact"]}">' in page


def test_a_web_contact_becomes_an_https_link(catalogue_app, store):
    editor = client_for(catalogue_app, EDITOR)
    contact = "https://eastmarch.example.org/contact-us"
    assert send(editor, f"/orgs/{ORG}/edit", {**PROFILE, "contact": contact}).status_code == 302
    assert f'<a href="{contact}">{contact}</a>' in text(editor.get(f"/orgs/{ORG}"))


UNSAFE = [
    ("website", "javascript:alert(1)"),
    ("website", "data:text/html,x"),
    ("website", "ftp://x.example"),
    ("website", "https://"),
    ("contact", "javascript:alert(1)"),
    ("contact", "data:text/html,x"),
]


@pytest.mark.parametrize(("field", "value"), UNSAFE)
def test_unsafe_addresses_are_refused_beside_the_field(catalogue_app, store, field, value):
    editor = client_for(catalogue_app, EDITOR)
    response = send(editor, f"/orgs/{ORG}/edit", {**PROFILE, field: value})
    assert response.status_code == 400
    page = text(response)
    assert "https://" in field_error(page, field)
    assert list(summary_links(page)) == [field]
    assert f'value="{value}"' in page and 'value="Eastmarch Police Service"' in page
    stored = organisation(store)
    assert stored.name == "Eastmarch Police" and getattr(stored, field).startswith(
        "https://eastmarch-police" if field == "website" else "digital.engagement@"
    )


def test_an_empty_name_is_refused(catalogue_app, store):
    response = send(client_for(catalogue_app, EDITOR), f"/orgs/{ORG}/edit", {**PROFILE, "name": ""})
    assert response.status_code == 400
    assert summary_links(text(response)) == {"name": "Enter the name"}
    assert organisation(store).region == "Scotland"


def _unsafe_stored(store, **values) -> str:
    """Store unsafe values straight into the database; returns a published entry's slug."""
    fresh(store)
    store.execute(update(Organisation).where(Organisation.slug == ORG).values(**values))
    store.commit()
    org = organisation(store)
    return store.scalar(
        select(Entry.slug).where(Entry.organisation_id == org.id, Entry.status == "published")
    )


@pytest.mark.parametrize("value", ["javascript:alert(1)", "data:text/html,x"])
def test_unsafe_stored_addresses_render_as_plain_text(catalogue_app, store, value):
    slug = _unsafe_stored(store, website=value, contact=value)
    client = client_for(catalogue_app, None)
    page = client.get(f"/orgs/{ORG}").get_data(as_text=True)
    escaped = html.escape(value)
    assert page.count(escaped) == 2  # both shown as text...
    assert not re.search(r'href="\s*(javascript|data):', page, re.I)  # ...and never linked
    assert f"<dd>{escaped}</dd>" in page
    entry = client.get(f"/entries/{slug}").get_data(as_text=True)
    assert not re.search(r'href="\s*(javascript|data):', entry, re.I)
    assert f'<a href="/orgs/{ORG}">See Eastmarch Police' in entry


def test_registering_a_new_organisation_refuses_a_javascript_website(catalogue_app, store):
    client = client_for(catalogue_app, None)
    password = "plum kettle saxophone"
    data = {
        "email": "sam@northfell.example", "display_name": "Sam Patel", "password": password,
        "confirm": password, "organisation": "new", "new_name": "Northfell Water Board",
        "new_sector": "housing", "new_website": "javascript:alert(1)",
    }  # fmt: skip
    response = client.post(
        "/register", data={"csrf_token": csrf_token(client, "/register"), **data}
    )
    assert response.status_code == 400
    page = text(response)
    assert "https://" in summary_links(page)["new_website"]
    assert "https://" in field_error(page, "new_website")
    fresh(store)
    assert store.scalar(select(func.count(OrganisationRequest.id))) == 0
    data["new_website"] = "https://northfell.example.org"
    response = client.post(
        "/register", data={"csrf_token": csrf_token(client, "/register"), **data}
    )
    assert response.status_code == 302
    fresh(store)
    assert store.scalar(select(OrganisationRequest.website)) == "https://northfell.example.org"


def test_an_admin_cannot_remove_their_own_admin_role(catalogue_app, store):
    client = client_for(catalogue_app, ADMIN_EMAIL)
    admin = store.scalar(select(User).where(User.email == ADMIN_EMAIL))
    member = store.scalar(select(User).where(User.email == "member@strathbeck-council.example"))
    url = f"/admin/users/{admin.id}/role"
    response = client.post(url, data={"csrf_token": csrf_token(client), "role": "member"})
    assert response.status_code == 302
    assert "cannot remove your own admin role" in client.get("/admin").text
    store.expire_all()
    assert store.get(User, admin.id).role == "admin"
    # The same admin does change someone else's role.
    url = f"/admin/users/{member.id}/role"
    assert (
        client.post(url, data={"csrf_token": csrf_token(client), "role": "editor"}).status_code
        == 302
    )
    store.expire_all()
    assert store.get(User, member.id).role == "editor"
