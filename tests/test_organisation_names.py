"""Organisation names: unique whatever the case or spacing, renames shown as "formerly ..." for
90 days (and the old name kept from others meanwhile), names site admins lock, and existing
databases with look-alike names upgraded without failing."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from alembic import command as alembic
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from kb.accounts.demo import ADMIN_EMAIL, DEMO_PASSWORD
from kb.cli import alembic_config
from kb.db import db, utcnow
from kb.models import FormerName, Organisation, OrganisationRequest, Sector, User
from tests.conftest import dispose, make_app
from tests.web import csrf_token, sign_in, summary_links

EASTMARCH, HARROWDALE = "eastmarch-police", "harrowdale-constabulary"
PROFILE = {"region": "", "website": "", "contact": "", "description": ""}


def editor_of(app, slug: str = EASTMARCH):
    client = app.test_client()
    assert sign_in(client, f"editor@{slug}.example", DEMO_PASSWORD).status_code == 302
    return client


def admin(app):
    client = app.test_client()
    assert sign_in(client, ADMIN_EMAIL, DEMO_PASSWORD).status_code == 302
    return client


def save_profile(client, slug: str, name: str, **extra):
    data = {"csrf_token": csrf_token(client, "/account"), "name": name, **PROFILE, **extra}
    return client.post(f"/orgs/{slug}/edit", data=data)


def name_of(app, slug: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Organisation.name).where(Organisation.slug == slug))


def age_renames(app, days: int) -> None:
    with app.app_context():
        db.session.execute(update(FormerName).values(renamed_at=utcnow() - timedelta(days=days)))
        db.session.commit()


@pytest.mark.parametrize(
    "name", ["Harrowdale Constabulary", "harrowdale  CONSTABULARY", " HarrowdaleConstabulary "]
)
def test_an_editor_cannot_take_another_organisations_name(catalogue_app, name):
    response = save_profile(editor_of(catalogue_app), EASTMARCH, name)
    assert response.status_code == 400
    assert "Harrowdale Constabulary is already on Span" in summary_links(response.text)["name"]
    assert name_of(catalogue_app, EASTMARCH) == "Eastmarch Police"
    listing = catalogue_app.test_client().get("/orgs").text
    assert listing.count(">Harrowdale Constabulary<") == 1


def test_the_database_refuses_look_alike_names_too(catalogue_app):
    with catalogue_app.app_context():
        organisation = db.session.scalar(select(Organisation).where(Organisation.slug == EASTMARCH))
        organisation.name = "HARROWDALE constabulary"
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_a_rename_shows_formerly_for_ninety_days(catalogue_app):
    editor = editor_of(catalogue_app)
    assert save_profile(editor, EASTMARCH, "Eastmarch and Fenwick Police").status_code == 302
    page = catalogue_app.test_client().get(f"/orgs/{EASTMARCH}").text
    assert "<h1>Eastmarch and Fenwick Police</h1>" in page and "Formerly Eastmarch Police" in page
    age_renames(catalogue_app, 91)
    assert "Formerly" not in catalogue_app.test_client().get(f"/orgs/{EASTMARCH}").text


def test_a_given_up_name_is_kept_from_others_for_ninety_days(catalogue_app):
    renamed = save_profile(editor_of(catalogue_app), EASTMARCH, "Eastmarch Constabulary")
    assert renamed.status_code == 302
    other = editor_of(catalogue_app, HARROWDALE)
    response = save_profile(other, HARROWDALE, "Eastmarch police")
    assert response.status_code == 400
    message = html.unescape(summary_links(response.text)["name"])
    assert "was Eastmarch Constabulary's name until recently" in message
    age_renames(catalogue_app, 91)
    assert save_profile(other, HARROWDALE, "Eastmarch police").status_code == 302


def test_an_organisation_may_change_the_case_of_its_own_name(catalogue_app):
    assert save_profile(editor_of(catalogue_app), EASTMARCH, "EASTMARCH  Police").status_code == 302
    assert name_of(catalogue_app, EASTMARCH) == "EASTMARCH Police"
    assert "Formerly" not in catalogue_app.test_client().get(f"/orgs/{EASTMARCH}").text


def test_a_locked_name_is_changed_by_admins_only(catalogue_app):
    site_admin = admin(catalogue_app)
    assert (
        save_profile(site_admin, EASTMARCH, "Eastmarch Police", name_locked="y").status_code == 302
    )
    editor = editor_of(catalogue_app)
    form = editor.get(f"/orgs/{EASTMARCH}/edit").text
    assert "readonly" in form and "Lock the name" not in form
    response = save_profile(editor, EASTMARCH, "Someone Else", region="North")
    assert response.status_code == 400 and "locked" in summary_links(response.text)["name"]
    assert save_profile(editor, EASTMARCH, "Eastmarch Police", region="North").status_code == 302
    renamed = save_profile(site_admin, EASTMARCH, "Eastmarch Police Service", name_locked="y")
    assert renamed.status_code == 302
    assert name_of(catalogue_app, EASTMARCH) == "Eastmarch Police Service"


def test_an_editor_cannot_lock_a_name(catalogue_app):
    saved = save_profile(editor_of(catalogue_app), EASTMARCH, "Eastmarch Police", name_locked="y")
    assert saved.status_code == 302
    with catalogue_app.app_context():
        assert not db.session.scalar(
            select(Organisation.name_locked).where(Organisation.slug == EASTMARCH)
        )


def test_a_new_organisation_cannot_be_asked_for_under_a_taken_name(catalogue_app):
    client = catalogue_app.test_client()
    data = {
        "csrf_token": csrf_token(client, "/register"), "email": "new@somewhere.example",
        "display_name": "Newcomer", "password": "quiet orange meadow lamp",
        "confirm": "quiet orange meadow lamp", "organisation": "new",
        "new_name": "harrowdale constabulary", "new_sector": "police",
    }  # fmt: skip
    response = client.post("/register", data=data)
    assert response.status_code == 400
    assert "Harrowdale Constabulary is already on Span" in summary_links(response.text)["new_name"]


def test_an_admin_cannot_approve_a_request_for_a_taken_name(catalogue_app):
    with catalogue_app.app_context():
        police = db.session.scalar(select(Sector).where(Sector.slug == "police"))
        request = OrganisationRequest(requester_id=1, name="Eastmarch  POLICE", sector=police)
        db.session.add(request)
        db.session.commit()
        request_id = request.id
        before = db.session.scalar(select(func.count()).select_from(Organisation))
    client = admin(catalogue_app)
    response = client.post(f"/admin/requests/{request_id}/approve",
                           data={"csrf_token": csrf_token(client, "/account")})  # fmt: skip
    assert response.status_code == 302
    assert "Eastmarch Police is already on Span" in client.get("/admin").text
    with catalogue_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organisation)) == before


@pytest.fixture(params=["sqlite", "postgres"])
def unmigrated(request, tmp_path):
    """An app on an empty database, SQLite or PostgreSQL."""
    if request.param == "sqlite":
        yield make_app(tmp_path, tmp_path / "old.sqlite")
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = f"upgrade_{tmp_path.name.lower()}"[:60]
    app = make_app(tmp_path, tmp_path / "unused.sqlite", DATABASE_URL=cluster.create_database(name))
    yield app
    dispose(app)
    cluster.drop_database(name)


ORGANISATION = text(
    "INSERT INTO organisations (slug, name, sector_id, region, website, description, contact, "
    "is_sample, created_at) VALUES (:slug, :name, 1, '', '', '', '', :sample, :created)"
)


MEMBER_OF_B = text(
    "INSERT INTO users (email, display_name, organisation_id, role, is_demo, created_at) "
    "SELECT 'm@b.example', 'M', id, 'member', :no, :created FROM organisations WHERE slug = 'b'"
)


def test_upgrading_a_database_with_look_alike_names_renames_the_later_ones(unmigrated):
    with unmigrated.app_context(), db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        alembic.upgrade(config, "0004")
        connection.execute(text("INSERT INTO sectors (id, slug, name, description, position) "
                                "VALUES (1, 'p', 'P', '', 1)"))  # fmt: skip
        names = [("a", "Harrowdale Constabulary"), ("b", "harrowdale constabulary"),
                 ("c", "Harrowdale  Constabulary"), ("d", "Eastmarch Police")]  # fmt: skip
        created = utcnow().replace(tzinfo=None)
        for slug, name in names:
            values = {"slug": slug, "name": name, "sample": False, "created": created}
            connection.execute(ORGANISATION, values)
        # A member of a renamed organisation: the upgrade must not need to copy the table.
        connection.execute(MEMBER_OF_B, {"no": False, "created": created})
        alembic.upgrade(config, "head")
    with unmigrated.app_context():
        names = dict(db.session.execute(select(Organisation.slug, Organisation.name)).all())
        former = db.session.scalars(select(FormerName.name)).all()
        users = db.session.scalar(select(func.count()).select_from(User))
    assert names == {"a": "Harrowdale Constabulary", "b": "harrowdale constabulary (2)",
                     "c": "Harrowdale  Constabulary (3)", "d": "Eastmarch Police"}  # fmt: skip
    assert sorted(former) == ["Harrowdale  Constabulary", "harrowdale constabulary"]
    assert users == 1
