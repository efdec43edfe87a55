"""Borrowing: adapting another organisation's entry with credit, adopting it as it is, asking
first, lineage across generations, and merging the original's later changes into a copy."""

from flask import Blueprint, flash, redirect

from kb.borrowing.panel import entry_panel
from kb.db import db
from kb.entries.panels import EntryPanel, register

bp = Blueprint("borrowing", __name__)


@bp.record_once
def _add_entry_panel(state) -> None:
    """Entry pages show who borrowed what and offer "Borrow this" (``panel.py``)."""
    register(state.app, EntryPanel(entry_panel, "borrowing/_entry.html"))


def refused(refusal: Exception, to: str):
    """Undo the request's writes, say why in words, and go back to ``to``."""
    db.session.rollback()
    flash(str(refusal), "error")
    return redirect(to)


from kb.borrowing import (  # noqa: E402,F401 - registers routes
    lineage_views,
    requests_views,
    reuse_views,
    upstream_views,
    views,
)
