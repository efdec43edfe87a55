"""Views for an entry's family tree and for what a copy changed from its original."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from kb import permissions
from kb.borrowing import bp
from kb.borrowing.lineage import borrow_of, family
from kb.borrowing.upstream import source_content, source_revision
from kb.db import db
from kb.entries.content import current_content
from kb.entries.describe import content_changes
from kb.entries.lookup import load_entry


@bp.get("/entries/<slug>/lineage")
def lineage(slug: str):
    entry = load_entry(slug)
    tree = family(db.session, entry, lambda other: permissions.can_view(current_user, other))
    return render_template("borrowing/lineage.html", entry=entry, tree=tree)


@bp.get("/entries/<slug>/what-we-changed")
def compare(slug: str):
    """The source revision the copy is based on beside the copy's current text, as a diff."""
    entry = load_entry(slug)
    borrow = borrow_of(db.session, entry)
    if borrow is None:
        abort(404)
    base = source_content(db.session, borrow.source, borrow.source_revision)
    if base is None:
        abort(404)
    return render_template(
        "borrowing/compare.html",
        entry=entry,
        borrow=borrow,
        source=borrow.source,
        base_revision=source_revision(db.session, borrow.source, borrow.source_revision),
        changes=content_changes(base, current_content(entry)),
    )
