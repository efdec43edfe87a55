"""Views for the home page and the sector, channel and topic listings."""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from sqlalchemy import select

from kb.browse import bp
from kb.db import db
from kb.entries.listing import load_listing
from kb.entries.queries import (
    EntryFilter,
    catalogue_totals,
    entries_from_each_sector,
    facet_counts,
    recent_entries,
)
from kb.entries.queries import sector_channel_grid as grid_counts
from kb.models import Channel, Sector, Topic
from kb.vocabulary import LISTING_FACETS

# For each kind of listing: the model it is scoped to and the facets it offers.
SCOPES = {"sector": Sector, "channel": Channel, "topic": Topic}


def _all(model):
    return db.session.scalars(select(model).order_by(model.position)).all()


@bp.get("/")
def home():
    sectors, channels = _all(Sector), _all(Channel)
    counts = facet_counts(db.session, EntryFilter(), "sector")
    return render_template(
        "browse/home.html",
        sectors=sectors,
        sector_counts=counts,
        from_counts=entries_from_each_sector(db.session),
        channels=channels,
        grid=grid_counts(db.session),
        recent=recent_entries(db.session),
        totals=catalogue_totals(db.session),
    )


@bp.get("/about")
def about():
    return render_template("browse/about.html")


def _index(scope: str):
    model = SCOPES[scope]
    counts = facet_counts(db.session, EntryFilter(), scope)
    return render_template("browse/index.html", scope=scope, terms=_all(model), counts=counts)


def _listing(scope: str, slug: str):
    model, facets = SCOPES[scope], LISTING_FACETS[scope]
    term = db.session.scalar(select(model).where(model.slug == slug))
    if term is None:
        abort(404)
    results = load_listing(
        db.session,
        request.args,
        EntryFilter(**{scope: (term.id,)}),
        facets,
        per_page=current_app.config["ENTRIES_PER_PAGE"],
        sector=term if scope == "sector" else None,
    )
    return render_template("browse/listing.html", scope=scope, term=term, results=results)


@bp.get("/sectors")
def sectors():
    return _index("sector")


@bp.get("/sectors/<slug>")
def sector(slug: str):
    return _listing("sector", slug)


@bp.get("/channels")
def channels():
    return _index("channel")


@bp.get("/channels/<slug>")
def channel(slug: str):
    return _listing("channel", slug)


@bp.get("/topics")
def topics():
    return _index("topic")


@bp.get("/topics/<slug>")
def topic(slug: str):
    return _listing("topic", slug)
