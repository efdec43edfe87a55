"""What many pages read and only the catalogue changes (the vocabularies' labels, whether
sample content is shown) is kept by each process until the catalogue's version moves
(``versions.kept``): a change shows on the next page, in every process and every thread, and
never an older value."""

from __future__ import annotations

import threading

from sqlalchemy import func, select, update

from kb.db import db
from kb.models import Entry, Organisation, Sector
from tests.conftest import dispose, make_app

SEARCH = "/search?q="  # every entry, with every facet's values and labels


def _facet(page: str, legend: str) -> str:
    """The filter panel's fieldset for one facet."""
    return page.split(f"<legend>{legend}</legend>", 1)[1].split("</fieldset>", 1)[0]


def _rename(app, model, slug: str, name: str) -> None:
    with app.app_context():
        db.session.scalar(select(model).where(model.slug == slug)).name = name
        db.session.commit()


def _busiest_organisation(app) -> tuple[str, str]:
    with app.app_context():
        row = db.session.execute(
            select(Organisation.slug, Organisation.name)
            .join(Entry, Entry.organisation_id == Organisation.id)
            .group_by(Organisation.id)
            .order_by(func.count().desc())
        ).first()
    return row.slug, row.name


def test_a_rename_in_another_process_shows_on_the_next_page(catalogue_app, tmp_path):
    other = make_app(tmp_path / "other", catalogue_app.config["DATABASE_URL"])
    try:
        reader = catalogue_app.test_client()
        slug, name = _busiest_organisation(catalogue_app)
        page = reader.get(SEARCH).get_data(as_text=True)  # kept by this process now
        assert name in _facet(page, "Organisation")
        _rename(other, Organisation, slug, "Renamed Borough Council")
        facet = _facet(reader.get(SEARCH).get_data(as_text=True), "Organisation")
        assert "Renamed Borough Council" in facet and name not in facet
        # Filters are checked against the same kept vocabulary.
        assert reader.get(f"/search?q=&organisation={slug}").status_code == 200
        assert reader.get("/search?q=&organisation=no-such-body").status_code == 404
    finally:
        dispose(other)


def test_threads_never_show_a_name_older_than_the_catalogue(catalogue_app):
    with catalogue_app.app_context():
        slug = db.session.scalar(select(Sector.slug).order_by(Sector.position))
    clients = [catalogue_app.test_client() for _ in range(4)]
    for round_ in range(5):
        name = f"Renamed sector {round_}"
        _rename(catalogue_app, Sector, slug, name)
        pages: list[str] = []

        def read(client, pages=pages) -> None:
            pages.append(_facet(client.get(SEARCH).get_data(as_text=True), "Sector"))

        threads = [threading.Thread(target=read, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(pages) == len(clients)
        assert all(name in page for page in pages), f"an older name after round {round_}"


def test_the_sample_banner_goes_on_the_next_page_when_no_sample_is_left(catalogue_app, tmp_path):
    other = make_app(tmp_path / "other", catalogue_app.config["DATABASE_URL"])
    try:
        reader = catalogue_app.test_client()
        assert "Sample content." in reader.get("/").get_data(as_text=True)
        with other.app_context():
            db.session.execute(update(Organisation).values(is_sample=False))
            db.session.commit()
        assert "Sample content." not in reader.get("/").get_data(as_text=True)
    finally:
        dispose(other)
