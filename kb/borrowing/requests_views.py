"""Views for "ask first" entries: asking to adapt one, and its owners granting or declining."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import case, select

from kb import permissions
from kb.borrowing import bp, refused
from kb.borrowing.forms import AskForm
from kb.borrowing.services import BorrowRefused, ask_to_borrow, decide_request, granted_request
from kb.borrowing.services import pending_request as find_pending
from kb.db import db, utcnow
from kb.entries.lookup import load_entry
from kb.models import BorrowRequest, BorrowRequestStatus, Entry
from kb.orgs.lookup import load_organisation


@bp.route("/entries/<slug>/ask", methods=["GET", "POST"])
@login_required
def ask(slug: str):
    entry = load_entry(slug)
    permissions.require(permissions.can_ask_to_borrow(current_user, entry))
    organisation = permissions.borrowing_organisation(current_user, entry)
    if granted_request(db.session, entry, organisation) is not None:
        flash(f"{entry.organisation.name} has given you permission to adapt this.", "info")
        return redirect(url_for("borrowing.borrow_entry", slug=entry.slug))
    pending = find_pending(db.session, entry, organisation)
    form = AskForm()
    if not form.is_submitted() and pending is not None:
        form.message.data = pending.message
    if form.validate_on_submit():
        try:
            ask_to_borrow(
                db.session,
                entry,
                organisation=organisation,
                user=current_user,
                message=form.message.data,
                now=utcnow(),
            )
        except BorrowRefused as refusal:
            return refused(refusal, url_for("entries.show", slug=entry.slug))
        db.session.commit()
        flash(
            f"Your request has been sent to {entry.organisation.name}'s editors. You can "
            "borrow this entry once they grant it.",
            "success",
        )
        return redirect(url_for("entries.show", slug=entry.slug))
    status = 400 if form.is_submitted() else 200
    return render_template("borrowing/ask.html", entry=entry, form=form, pending=pending), status


@bp.get("/orgs/<slug>/borrow-requests")
@login_required
def requests(slug: str):
    organisation = load_organisation(slug)
    permissions.require(permissions.can_see_borrow_requests(current_user, organisation))
    pending_first = case((BorrowRequest.status == BorrowRequestStatus.PENDING.value, 0), else_=1)
    found = db.session.scalars(
        select(BorrowRequest)
        .join(Entry, Entry.id == BorrowRequest.entry_id)
        .where(Entry.organisation_id == organisation.id)
        .order_by(pending_first, BorrowRequest.created_at.desc())
    ).all()
    return render_template("borrowing/requests.html", organisation=organisation, requests=found)


def _decide(request_id: int, grant: bool):
    borrow_request = db.session.get(BorrowRequest, request_id)
    if borrow_request is None:
        abort(404)
    organisation = borrow_request.entry.organisation
    permissions.require(permissions.can_see_borrow_requests(current_user, organisation))
    if not permissions.can_decide_borrow_request(current_user, borrow_request):
        flash("This request has already been answered.", "info")
        return redirect(url_for("borrowing.requests", slug=organisation.slug))
    try:
        decide_request(db.session, borrow_request, user=current_user, grant=grant, now=utcnow())
    except BorrowRefused as refusal:
        return refused(refusal, url_for("borrowing.requests", slug=organisation.slug))
    db.session.commit()
    who, title = borrow_request.organisation.name, borrow_request.entry.title
    if grant:
        flash(f"Granted: {who} may now adapt “{title}”, with credit to you.", "success")
    else:
        flash(f"Declined {who}'s request to adapt “{title}”.", "success")
    return redirect(url_for("borrowing.requests", slug=organisation.slug))


@bp.post("/borrow-requests/<int:request_id>/grant")
@login_required
def grant(request_id: int):
    return _decide(request_id, grant=True)


@bp.post("/borrow-requests/<int:request_id>/decline")
@login_required
def decline(request_id: int):
    return _decide(request_id, grant=False)
