"""The edit conflict page: the person's own text untouched, what changed meanwhile, and a
three-way merge when the two edits do not overlap."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from kb.db import db
from kb.entries.content import current_content, revision_content
from kb.entries.describe import content_changes
from kb.entries.editing import EditConflict
from kb.entries.forms import EntryForm
from kb.entries.merging import merge_content
from kb.models import Entry, Kind, Revision


def conflict_page(conflict: EditConflict, form: EntryForm):
    """409 when the edit started from an older revision; 400 when its base is missing or
    not a revision of this entry. Either way the form comes back with the person's text."""
    entry = db.session.get(Entry, conflict.entry.id, populate_existing=True)
    theirs = current_content(entry)
    mine = form.content()
    base = None
    if conflict.base is not None and 0 < conflict.base < entry.current_revision_number:
        base = db.session.scalar(
            select(Revision).where(Revision.entry_id == entry.id, Revision.number == conflict.base)
        )
    if base is not None:
        base_content = revision_content(base, theirs.details())
        merged = merge_content(base_content, mine, theirs)
        meanwhile = base_content
        status = 409
    else:
        merged, meanwhile, status = None, None, 400
    newer = db.session.scalars(
        select(Revision)
        .where(Revision.entry_id == entry.id, Revision.number > (conflict.base or 0))
        .order_by(Revision.number)
    ).all()
    # The form now carries the current revision: saving it again is a deliberate choice.
    form.base_revision.data = str(entry.current_revision_number)
    return (
        render_template(
            "entries/conflict.html",
            entry=entry,
            form=form,
            kind=Kind(entry.kind),
            organisation=entry.organisation,
            newer=newer if base is not None else [],
            changes=content_changes(meanwhile, theirs) if meanwhile else None,
            yours_against_current=content_changes(theirs, mine),
            merged=merged,
            merged_changes=content_changes(theirs, merged) if merged else None,
            base=conflict.base if base is not None else None,
        ),
        status,
    )
