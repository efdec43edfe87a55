"""Views for an organisation's people: editors approve those who asked to join."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kb import permissions
from kb.db import db, utcnow
from kb.models import Organisation, User
from kb.orgs import bp, membership
from kb.orgs.lookup import load_organisation


def _organisation(slug: str) -> Organisation:
    organisation = load_organisation(slug)
    permissions.require(permissions.can_manage_members(current_user, organisation))
    return organisation


def _pending(organisation: Organisation, user_id: int) -> User:
    """Someone waiting to join ``organisation`` whom the current user may approve or decline."""
    user = db.session.get(User, user_id)
    if user is None or user.organisation_id != organisation.id:
        abort(404)
    permissions.require_visible(permissions.can_decide_membership(current_user, user))
    return user


@bp.get("/<slug>/members")
@login_required
def members(slug: str):
    organisation = _organisation(slug)
    people = db.session.scalars(
        select(User).where(User.organisation_id == organisation.id).order_by(User.display_name)
    ).all()
    return render_template(
        "orgs/members.html",
        organisation=organisation,
        pending=[p for p in people if not p.is_approved],
        approved=[p for p in people if p.is_approved],
    )


@bp.post("/<slug>/members/<int:user_id>/approve")
@login_required
def approve_member(slug: str, user_id: int):
    organisation = _organisation(slug)
    member = _pending(organisation, user_id)
    membership.approve_member(db.session, member, utcnow())
    db.session.commit()
    flash(f"{member.display_name} can now write and edit {organisation.name}'s entries.", "success")
    return redirect(url_for("orgs.members", slug=slug))


@bp.post("/<slug>/members/<int:user_id>/decline")
@login_required
def decline_member(slug: str, user_id: int):
    organisation = _organisation(slug)
    member = _pending(organisation, user_id)
    membership.decline_member(db.session, member)
    db.session.commit()
    flash(f"{member.display_name} is no longer listed as part of {organisation.name}.", "success")
    return redirect(url_for("orgs.members", slug=slug))
