"""Views for site admins: decide organisation requests, change roles."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kb import permissions
from kb.accounts import services
from kb.admin import bp
from kb.db import db, utcnow
from kb.models import OrganisationRequest, RequestStatus, Role, User
from kb.orgs.names import NameUnavailable


@bp.before_request
@login_required
def _admins_only():
    permissions.require(permissions.can_administer(current_user))


@bp.get("")
def index():
    requests = db.session.scalars(
        select(OrganisationRequest)
        .where(OrganisationRequest.status == RequestStatus.PENDING.value)
        .order_by(OrganisationRequest.created_at)
    ).all()
    users = db.session.scalars(select(User).order_by(User.is_demo, User.email)).all()
    return render_template("admin/index.html", requests=requests, users=users, roles=list(Role))


def _pending_request(request_id: int) -> OrganisationRequest:
    found = db.session.get(OrganisationRequest, request_id)
    if found is None or found.status != RequestStatus.PENDING.value:
        abort(404)
    return found


@bp.post("/requests/<int:request_id>/approve")
def approve_request(request_id: int):
    try:
        organisation = services.approve_request(db.session, _pending_request(request_id), utcnow())
    except NameUnavailable as refusal:
        db.session.rollback()
        flash(f"Not added: {refusal} Decline the request, or ask who made it.", "error")
        return redirect(url_for("admin.index"))
    db.session.commit()
    flash(f"{organisation.name} has been added; whoever asked for it is now its editor.", "success")
    return redirect(url_for("admin.index"))


@bp.post("/requests/<int:request_id>/decline")
def decline_request(request_id: int):
    found = _pending_request(request_id)
    services.decline_request(db.session, found, utcnow())
    db.session.commit()
    flash(f"The request for {found.name} was declined.", "success")
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>/role")
def set_role(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        abort(400)
    if not permissions.can_change_role(current_user, user, role):
        flash("You cannot remove your own admin role; ask another admin.", "error")
        return redirect(url_for("admin.index"))
    try:
        services.set_role(db.session, user, role)
    except ValueError:
        flash(f"{user.display_name} has no organisation, so can only be an admin.", "error")
        return redirect(url_for("admin.index"))
    db.session.commit()
    flash(f"{user.display_name} is now: {user.role_label}.", "success")
    return redirect(url_for("admin.index"))
