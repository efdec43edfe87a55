"""The sort and the date on each card agree: "Recently updated" shows when each entry was
updated, "Newest first" when it was first published, and the cards come in the order of the
dates they show. Publishing records its date once; the migration backfills it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import alembic.command as alembic
import pytest
from sqlalchemy import select, text

from kb.cli import alembic_config
from kb.db import db
from kb.entries.editing import set_status
from kb.models import Entry, Status
from tests.conftest import make_app

CARD = re.compile(
    r'<article class="entry-card">.*?href="/entries/([a-z0-9-]+)".*?'
    r'<span class="entry-card-date">(\w+) <time datetime="([0-9-]+)">',
    re.S,
)


def _cards(client, url: str) -> list[tuple[str, str, str]]:
    response = client.get(url)
    assert response.status_code == 200, url
    return CARD.findall(response.get_data(as_text=True))


def _dates(session, column: str) -> dict[str, str]:
    rows = session.execute(text(f"SELECT slug, {column} FROM entries WHERE {column} IS NOT NULL"))
    return {slug: str(value)[:10] for slug, value in rows}


SORTS = {"newest": ("Published", "published_at"), "updated": ("Updated", "updated_at")}


@pytest.mark.parametrize(
    ("url", "sort"),
    [("/sectors/local-government", "newest"), ("/sectors/local-government", "updated"),
     ("/channels/x-twitter", "newest"), ("/channels/x-twitter", "updated"),
     ("/search?q=warnings", "newest")],  # search sorts by relevance, newest or most borrowed
)  # fmt: skip
def test_cards_come_in_the_order_of_the_dates_they_show(client, session, url, sort):
    word, column = SORTS[sort]
    joiner = "&" if "?" in url else "?"
    cards = _cards(client, f"{url}{joiner}sort={sort}")
    assert len(cards) >= 5
    assert {shown for _slug, shown, _date in cards} == {word}
    dates = [date for _slug, _word, date in cards]
    assert dates == sorted(dates, reverse=True), dates
    truth = _dates(session, column)
    assert all(truth[slug] == date for slug, _word, date in cards)


def test_an_entry_updated_today_tops_recently_updated_and_shows_today(catalogue_app, client):
    with catalogue_app.app_context():
        entry = db.session.scalar(
            select(Entry).where(Entry.status == "published").order_by(Entry.updated_at).limit(1)
        )
        slug, now = entry.slug, datetime.now(UTC)
        entry.updated_at = now
        db.session.commit()
    (first, word, date), *_ = _cards(client, "/sectors/" + _sector_of(catalogue_app, slug)
                                     + "?sort=updated")  # fmt: skip
    assert (first, word, date) == (slug, "Updated", now.date().isoformat())


def _sector_of(app, slug: str) -> str:
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.slug == slug))
        return entry.origin_sector.slug


def test_publishing_records_the_first_publication_only(catalogue_app):
    with catalogue_app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.status == "published").limit(1))
        first = entry.published_at
        assert first is not None
        later = datetime.now(UTC) + timedelta(days=3)
        set_status(db.session, entry, Status.ARCHIVED, later)
        set_status(db.session, entry, Status.PUBLISHED, later)
        assert entry.published_at == first
        assert entry.updated_at == later


def test_a_draft_has_no_publication_date_until_it_is_published(catalogue_app):
    with catalogue_app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.status == "published").limit(1))
        entry.status, entry.published_at = "draft", None  # as a never-published draft
        db.session.flush()
        now = datetime.now(UTC)
        set_status(db.session, entry, Status.PUBLISHED, now)
        assert entry.published_at == now


def _one_organisation(connection) -> None:
    connection.execute(text(
        "INSERT INTO sectors (id, slug, name, description, position) VALUES"
        " (1, 'police', 'Police', '', 1)"
    ))  # fmt: skip
    connection.execute(text(
        "INSERT INTO organisations (id, slug, name, name_key, sector_id, region, website,"
        " contact, description, is_sample, created_at) VALUES (1, 'org', 'Org', 'org', 1,"
        " '', '', '', '', false, '2024-01-01 10:00:00.000000')"
    ))  # fmt: skip


def _one_entry(connection) -> None:
    _one_organisation(connection)
    connection.execute(text(
        "INSERT INTO entries (id, slug, kind, title, summary, organisation_id, origin_sector_id,"
        " licence, status, created_at, updated_at, current_revision_number, open_to_any_member)"
        " VALUES (1, 'e1', 'guidance', 'T', 'S', 1, 1, 'OGL-UK-3.0', 'published',"
        " '2024-01-01 10:00:00.000000', '2024-01-01 10:00:00.000000', 2, false)"
    ))  # fmt: skip


def test_the_migration_backfills_public_entries_from_their_creation(tmp_path):
    app = make_app(tmp_path, tmp_path / "old.sqlite")
    with app.app_context(), db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        alembic.upgrade(config, "0009")
        _one_organisation(connection)
        for number, status in enumerate(["published", "archived", "draft"], start=1):
            connection.execute(
                text(
                    "INSERT INTO entries (id, slug, kind, title, summary, organisation_id,"
                    " origin_sector_id, licence, status, created_at, updated_at,"
                    " current_revision_number, open_to_any_member) VALUES (:id, :slug,"
                    " 'guidance', 'T', 'S', 1, 1, 'OGL-UK-3.0', :status, :created, :updated, 1, 0)"
                ),
                {"id": number, "slug": f"e{number}", "status": status,
                 "created": f"2024-0{number}-01 10:00:00.000000",
                 "updated": "2025-06-01 10:00:00.000000"},
            )  # fmt: skip
        alembic.upgrade(config, "head")
        rows = connection.execute(text("SELECT slug, published_at FROM entries ORDER BY id"))
        found = {slug: value for slug, value in rows}
    assert str(found["e1"]).startswith("2024-01-01")
    assert str(found["e2"]).startswith("2024-02-01")
    assert found["e3"] is None


def test_the_migration_puts_tables_saved_earlier_in_a_scroll_region(tmp_path):
    """Stored HTML from before tables had their region is rendered again; other HTML is not."""
    app = make_app(tmp_path, tmp_path / "old.sqlite")
    table = "| a | b |\n|---|---|\n| 1 | 2 |\n"
    with app.app_context(), db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        alembic.upgrade(config, "0010")
        _one_entry(connection)
        for number, (body, html) in enumerate(
            [(table, "<table><tr><td>1</td></tr></table>"), ("Plain.", "<p>Kept as stored.</p>")],
            start=1,
        ):
            connection.execute(
                text(
                    "INSERT INTO revisions (id, entry_id, number, title, summary, body, body_html,"
                    " created_at, edit_summary) VALUES (:id, 1, :id, 'T', 'S', :body, :html,"
                    " '2024-01-01 10:00:00.000000', '')"
                ),
                {"id": number, "body": body, "html": html},
            )
        alembic.upgrade(config, "head")
        stored = dict(connection.execute(text("SELECT id, body_html FROM revisions")).all())
    assert 'class="table-scroll" role="region" tabindex="0"' in stored[1]
    assert "<th>a</th>" in stored[1]
    assert stored[2] == "<p>Kept as stored.</p>"
