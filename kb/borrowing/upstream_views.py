"""Views for keeping a copy up to date: merging or dismissing the original's later changes,
and an organisation's list of everything it has borrowed or adopted."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import permissions
from kb.borrowing import bp, refused
from kb.borrowing.forms import MergeForm
from kb.borrowing.lineage import borrow_of
from kb.borrowing.services import BorrowRefused, dismiss_update, merge_update
from kb.borrowing.upstream import has_update, proposal_for, source_content
from kb.db import db, utcnow
from kb.entries.content import current_content
from kb.entries.describe import content_changes
from kb.entries.editing import EditConflict
from kb.entries.forms import entry_form
from kb.entries.lookup import load_entry
from kb.licences import copy_licences
from kb.models import Adoption, Borrow, Entry, Kind
from kb.orgs.lookup import load_organisation


def _copy_and_borrow(slug: str) -> tuple[Entry, Borrow]:
    copy = load_entry(slug)
    borrow = borrow_of(db.session, copy)
    if borrow is None:
        abort(404)
    permissions.require(permissions.can_merge_upstream(current_user, copy))
    return copy, borrow


def _render(copy, borrow, form, proposal, *, status=200, moved_on=False):
    source = borrow.source
    base = source_content(db.session, source, borrow.source_revision)
    preview = form.preview() if request.form.get("action") == "preview" else None
    return (
        render_template(
            "borrowing/merge.html",
            entry=copy,
            source=source,
            borrow=borrow,
            form=form,
            kind=Kind(copy.kind),
            organisation=copy.organisation,
            proposal=proposal,
            theirs=content_changes(base, current_content(source)) if base else None,
            ours=content_changes(current_content(copy), form.content()),
            preview=preview,
            moved_on=moved_on,
            has_errors=any(field.errors for field in form) or moved_on,
        ),
        status,
    )


@bp.route("/entries/<slug>/upstream/merge", methods=["GET", "POST"])
@login_required
def merge(slug: str):
    copy, borrow = _copy_and_borrow(slug)
    # A POST goes on even if someone merged meanwhile: its base revision decides, so a late
    # second merge gets the conflict page with its text instead of losing it.
    up_to_date = borrow.source.current_revision_number <= borrow.source_revision
    if request.method == "GET" and up_to_date:
        flash("There is nothing to merge: your copy is up to date with the original.", "info")
        return redirect(url_for("entries.show", slug=copy.slug))
    proposal = proposal_for(db.session, copy, borrow)
    if proposal is None:
        abort(404)
    form = entry_form(copy.kind, form_class=MergeForm)
    form.limit_licences(copy_licences(borrow.licence))
    if request.method == "GET":
        form.fill(proposal.content)
        form.base_revision.data = str(copy.current_revision_number)
        form.upstream_revision.data = str(proposal.upstream_revision)
        form.edit_summary.data = (
            f"Merged changes from the original, up to its revision {proposal.upstream_revision}"
        )
        return _render(copy, borrow, form, proposal)
    if request.form.get("action") == "preview":
        form.validate()
        return _render(copy, borrow, form, proposal)
    if not form.validate():
        return _render(copy, borrow, form, proposal, status=400)
    try:
        merge_update(
            db.session,
            copy,
            borrow,
            author=current_user,
            content=form.content(),
            base=form.base(),
            upstream_revision=form.upstream() or 0,
            edit_summary=form.edit_summary.data or "",
            now=utcnow(),
        )
    except EditConflict:
        db.session.rollback()
        copy, borrow = _copy_and_borrow(slug)
        # Keep what they typed; the form now carries the latest revision of the copy.
        form.base_revision.data = str(copy.current_revision_number)
        return _render(copy, borrow, form, proposal, status=409, moved_on=True)
    except BorrowRefused as refusal:
        return refused(refusal, url_for("entries.show", slug=copy.slug))
    db.session.commit()
    flash(
        "Merged. Your copy now includes the original's changes up to its revision "
        f"{borrow.source_revision}.",
        "success",
    )
    return redirect(url_for("entries.show", slug=copy.slug))


@bp.post("/entries/<slug>/upstream/dismiss")
@login_required
def dismiss(slug: str):
    copy, borrow = _copy_and_borrow(slug)
    dismiss_update(db.session, borrow)
    db.session.commit()
    flash("Dismissed. You will be told again when the original next changes.", "success")
    return redirect(url_for("entries.show", slug=copy.slug))


@bp.get("/orgs/<slug>/borrowed")
@login_required
def borrowed(slug: str):
    organisation = load_organisation(slug)
    permissions.require(permissions.can_see_borrowed(current_user, organisation))
    copies = db.session.scalars(
        select(Borrow)
        .join(Entry, Entry.id == Borrow.entry_id)
        .where(Entry.organisation_id == organisation.id)
        .options(selectinload(Borrow.entry), selectinload(Borrow.source))
    ).all()
    adoptions = db.session.scalars(
        select(Adoption)
        .where(Adoption.organisation_id == organisation.id)
        .options(selectinload(Adoption.entry))
    ).all()
    # Pending upstream updates first, then newest first.
    copies = sorted(copies, key=lambda b: (not has_update(b), -b.created_at.timestamp()))
    adoptions = sorted(
        adoptions,
        key=lambda a: (a.entry.current_revision_number <= a.revision, -a.created_at.timestamp()),
    )
    return render_template(
        "borrowing/borrowed.html",
        organisation=organisation,
        copies=copies,
        adoptions=adoptions,
        has_update=has_update,
        pending=sum(1 for b in copies if has_update(b)),
    )
