"""Views for the list of organisations and each organisation's page."""

from __future__ import annotations

from flask import current_app, render_template, request
from sqlalchemy import select

from kb.db import db, utcnow
from kb.entries.listing import load_listing
from kb.entries.queries import EntryFilter, entries_per_organisation
from kb.models import Organisation, Sector
from kb.orgs import bp, names
from kb.orgs.lookup import load_organisation
from kb.vocabulary import LISTING_FACETS


@bp.get("")
def index():
    counts = entries_per_organisation(db.session)
    organisations = db.session.scalars(
        select(Organisation).join(Sector).order_by(Sector.position, Organisation.name)
    ).all()
    return render_template("orgs/index.html", organisations=organisations, counts=counts)


@bp.get("/<slug>")
def show(slug: str):
    organisation = load_organisation(slug)
    results = load_listing(
        db.session,
        request.args,
        EntryFilter(organisation_id=organisation.id),
        LISTING_FACETS["organisation"],
        per_page=current_app.config["ENTRIES_PER_PAGE"],
    )
    former = names.former_names(db.session, organisation, utcnow())
    return render_template(
        "orgs/show.html", organisation=organisation, results=results, former_names=former
    )
