"""Views for an entry's history: the list of revisions, one revision, a diff, and revert."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import permissions
from kb.db import db, utcnow
from kb.entries import bp
from kb.entries.content import DETAIL_LABELS, entry_details, revision_content
from kb.entries.describe import describe_detail
from kb.entries.diffs import detail_changes, word_diff
from kb.entries.editing import EditConflict, revert
from kb.entries.forms import revision_number
from kb.entries.lookup import load_entry
from kb.models import Entry, Revision, User
from kb.rendering import RenderRefused
from kb.security import whole_number


def _revisions(entry: Entry) -> list[Revision]:
    return list(
        db.session.scalars(
            select(Revision)
            .where(Revision.entry_id == entry.id)
            .options(selectinload(Revision.author).joinedload(User.organisation))
            .order_by(Revision.number.desc())
        )
    )


def _revision(entry: Entry, number: int) -> Revision:
    revision = db.session.scalar(
        select(Revision).where(Revision.entry_id == entry.id, Revision.number == number)
    )
    if revision is None:
        abort(404)
    return revision


@bp.get("/<slug>/history")
def history(slug: str):
    entry = load_entry(slug)
    revisions = _revisions(entry)
    sizes = {r.number: len(r.body) for r in revisions}
    changes = {n: size - sizes.get(n - 1, 0) for n, size in sizes.items()}
    return render_template(
        "entries/history.html",
        entry=entry,
        revisions=revisions,
        changes=changes,
        can_revert=permissions.can_revert(current_user, entry),
    )


@bp.get("/<slug>/revisions/<int:number>")
def revision(slug: str, number: int):
    entry = load_entry(slug)
    shown = _revision(entry, number)
    return render_template(
        "entries/revision.html",
        entry=entry,
        revision=shown,
        details=[(label, describe_detail(name, value)) for name, label, value in _details(shown)],
        can_revert=permissions.can_revert(current_user, entry),
    )


def _details(revision: Revision):
    if revision.details is None:
        return []
    return [(name, label, revision.details.get(name)) for name, label in DETAIL_LABELS.items()]


@bp.get("/<slug>/compare")
def compare(slug: str):
    """The history page's compare form (GET, no script): redirects to the diff."""
    entry = load_entry(slug)
    a, b = whole_number(request.args.get("from")), whole_number(request.args.get("to"))
    if a is None or b is None:
        abort(404)
    return redirect(url_for("entries.diff", slug=entry.slug, a=min(a, b), b=max(a, b)))


@bp.get("/<slug>/diff/<int:a>/<int:b>")
def diff(slug: str, a: int, b: int):
    entry = load_entry(slug)
    old, new = _revision(entry, a), _revision(entry, b)
    fallback = entry_details(entry)
    old_content, new_content = revision_content(old, fallback), revision_content(new, fallback)
    return render_template(
        "entries/diff.html",
        entry=entry,
        old=old,
        new=new,
        title=word_diff(old.title, new.title),
        summary=word_diff(old.summary, new.summary),
        body=word_diff(old.body, new.body),
        details=detail_changes(
            old.details and old_content.details(),
            new.details and new_content.details(),
            describe_detail,
        ),
        can_revert=permissions.can_revert(current_user, entry),
    )


@bp.post("/<slug>/revert/<int:number>")
@login_required
def revert_to(slug: str, number: int):
    entry = load_entry(slug)
    permissions.require(permissions.can_revert(current_user, entry))
    target = _revision(entry, number)
    base = revision_number(request.form.get("base_revision"))
    try:
        result = revert(
            db.session, entry, author=current_user, revision=target, base=base, now=utcnow()
        )
    except EditConflict:
        db.session.rollback()
        flash(
            "Nothing was reverted: the entry changed while you were looking at its history. "
            "Check the latest revision, then try again.",
            "error",
        )
        return history(slug), 409
    except RenderRefused as refusal:
        db.session.rollback()
        flash(f"Nothing was reverted: {refusal}", "error")
        return history(slug), 400
    db.session.commit()
    if result.revision is None:
        flash(f"Nothing to revert: the entry already matches revision {number}.", "info")
    else:
        flash(
            f"Reverted to revision {number}, saved as revision {result.revision.number}.", "success"
        )
    return redirect(url_for("entries.history", slug=slug))
