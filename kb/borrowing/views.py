"""Views for borrowing an entry (adapting it as a new entry of your organisation) and for
adopting it as it is."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from kb import permissions
from kb.borrowing import bp, refused
from kb.borrowing.forms import AdoptForm, BorrowForm
from kb.borrowing.services import (
    BorrowRefused,
    adopt,
    adoption_by,
    borrow,
    borrowing_content,
    granted_request,
    withdraw_adoption,
)
from kb.db import db, utcnow
from kb.entries.forms import entry_form
from kb.entries.lookup import load_entry
from kb.licences import LICENCES, adapted_from, copy_licences
from kb.models import Entry, Kind, Status


def _render(form: BorrowForm, source: Entry, *, status: int = 200, refused: str | None = None):
    preview = form.preview() if request.form.get("action") == "preview" else None
    revision = form.revision() or source.current_revision_number
    return (
        render_template(
            "borrowing/borrow.html",
            form=form,
            source=source,
            kind=Kind(source.kind),
            organisation=permissions.borrowing_organisation(current_user, source),
            licence=LICENCES[source.licence],
            credit=adapted_from(
                source.licence,
                title=source.title,
                organisation=source.organisation.name,
                link=url_for("entries.show", slug=source.slug, _external=True),
                revision=revision,
            ),
            revision=revision,
            preview=preview,
            refused=refused,
            has_errors=any(field.errors for field in form) or bool(refused),
        ),
        status,
    )


@bp.route("/entries/<slug>/borrow", methods=["GET", "POST"])
@login_required
def borrow_entry(slug: str):
    source = load_entry(slug)
    organisation = permissions.borrowing_organisation(current_user, source)
    granted = organisation is not None and granted_request(db.session, source, organisation)
    if permissions.can_ask_to_borrow(current_user, source) and not granted:
        return redirect(url_for("borrowing.ask", slug=source.slug))
    permissions.require(permissions.can_borrow(current_user, source, granted=bool(granted)))
    form = entry_form(source.kind, form_class=BorrowForm)
    form.limit_licences(copy_licences(source.licence))
    if request.method == "GET":
        form.fill(borrowing_content(source))
        form.source_revision.data = str(source.current_revision_number)
        return _render(form, source)
    if request.form.get("action") == "preview":
        form.validate()
        return _render(form, source)
    if not form.validate():
        return _render(form, source, status=400)
    publish = request.form.get("action") == "publish"
    if publish:
        permissions.require(permissions.can_publish_new(current_user, organisation))
    try:
        copy = borrow(
            db.session,
            source,
            organisation=organisation,
            author=current_user,
            content=form.content(),
            source_revision=form.revision() or 0,
            note=form.note.data or "",
            status=(Status.PUBLISHED if publish else Status.DRAFT).value,
            now=utcnow(),
            edit_summary=form.edit_summary.data or "",
            open_to_any_member=form.open_to_any_member.data
            and permissions.can_open_to_any_member(current_user, organisation),
        )
    except BorrowRefused as refusal:
        db.session.rollback()
        return _render(form, source, status=409, refused=str(refusal))
    db.session.commit()
    flash(
        f"Borrowed and {'published' if publish else 'saved as a draft'}. "
        f"It credits {source.organisation.name}.",
        "success",
    )
    return redirect(url_for("entries.show", slug=copy.slug))


@bp.post("/entries/<slug>/adopt")
@login_required
def adopt_entry(slug: str):
    entry = load_entry(slug)
    permissions.require(permissions.can_adopt(current_user, entry))
    organisation = permissions.borrowing_organisation(current_user, entry)
    form = AdoptForm()
    if not form.validate():
        flash(form.note.errors[0] if form.note.errors else "Try again.", "error")
        return redirect(url_for("entries.show", slug=entry.slug))
    try:
        adopt(
            db.session,
            entry,
            organisation=organisation,
            user=current_user,
            note=form.note.data or "",
            now=utcnow(),
        )
    except BorrowRefused as refusal:
        return refused(refusal, url_for("entries.show", slug=entry.slug))
    db.session.commit()
    flash(f"Recorded: {organisation.name} uses this as it is.", "success")
    return redirect(url_for("entries.show", slug=entry.slug))


@bp.post("/entries/<slug>/adopt/withdraw")
@login_required
def withdraw(slug: str):
    entry = load_entry(slug)
    # The reader's own organisation's adoption, if any; whether they may withdraw it is
    # decided below (a member still waiting for approval may not).
    organisation = current_user.organisation
    adoption = adoption_by(db.session, entry, organisation) if organisation else None
    if adoption is None:
        abort(404)
    permissions.require(permissions.can_withdraw_adoption(current_user, adoption))
    withdraw_adoption(db.session, adoption)
    db.session.commit()
    flash(f"{organisation.name} is no longer listed as using this as it is.", "success")
    return redirect(url_for("entries.show", slug=entry.slug))
