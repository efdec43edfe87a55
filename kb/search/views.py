"""``/search`` and the similar-entries fragment used while writing a new entry."""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from kb import permissions, vocabulary
from kb.db import db
from kb.search import SearchUnavailable, bp, get_index, get_synonyms
from kb.search.documents import ACROSS_SECTORS
from kb.search.matching import saved_query
from kb.search.query import MAX_TERMS, shorten
from kb.search.schema import FACETS
from kb.search.service import SORTS, SearchRequest, search
from kb.search.similar import similar_to_text

QUERY_MAX = 300


def parse_request(args: MultiDict, user) -> tuple[SearchRequest, bool]:
    """The search a URL describes (404 for filters, sorts or pages that cannot exist), and
    whether the text had to be shortened."""
    text = " ".join(args.get("q", "").split())
    shortened = len(text) > QUERY_MAX
    selected = {facet: vocabulary.query_values(args, facet) for facet in FACETS}
    if not all(vocabulary.known(db.session, facet, values) for facet, values in selected.items()):
        abort(404)
    sort = args.get("sort") or "relevance"
    page = vocabulary.page_number(args.get("page"))
    borrowed = args.get("borrowed", "")
    if sort not in SORTS or borrowed not in {"", ACROSS_SECTORS}:
        abort(404)
    drafts = permissions.drafts_in_search(user)
    return (
        SearchRequest(
            text=shorten(text, QUERY_MAX),
            selected={facet: values for facet, values in selected.items() if values},
            sort=sort,
            page=page,
            per_page=current_app.config["SEARCH_RESULTS_PER_PAGE"],
            include_archived=args.get("archived") == "1",
            borrowed_across=borrowed == ACROSS_SECTORS,
            every_organisation=args.get("more") == "organisation",
            drafts_of=drafts.id if drafts else None,
        ),
        shortened,
    )


@bp.get("/search")
def results():
    search_request, shortened = parse_request(request.args, current_user)
    index = get_index()
    index.catch_up(timeout=0)
    found = search(index, db.session, search_request, get_synonyms())
    if search_request.page > found.pages:
        raise vocabulary.PastTheLastPage(found.pages)
    return render_template(
        "search/results.html", results=found, search=search_request, sorts=SORTS,
        shortened=shortened, query_max=QUERY_MAX, max_terms=MAX_TERMS,
        saved_query=saved_query(request.args),
    )  # fmt: skip


@bp.get("/search/similar")
def similar():
    """Up to five published entries like a draft title and summary, as a page fragment for
    the new-entry form's script (the form's own button renders the same list in full)."""
    title = request.args.get("title", "")[:200]
    summary = request.args.get("summary", "")[:300]
    index = get_index()
    index.catch_up(timeout=0)
    try:
        found, unavailable = similar_to_text(index, db.session, title=title, summary=summary), False
    except SearchUnavailable:
        found, unavailable = [], True
    return render_template("search/_similar.html", similar=found, checked=bool(title.strip()),
                           unavailable=unavailable)  # fmt: skip
