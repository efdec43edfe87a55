"""View for editing an organisation's public profile (its editors and site admins)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from kb import permissions
from kb.db import db, utcnow
from kb.orgs import bp, names
from kb.orgs.forms import OrganisationForm
from kb.orgs.lookup import load_organisation

FIELDS = ("region", "website", "contact", "description")
LOCKED = "The site admins have locked this organisation's name. Ask them if it must change."


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    organisation = load_organisation(slug)
    permissions.require(permissions.can_edit_organisation(current_user, organisation))
    form = OrganisationForm(obj=organisation)
    may_lock = permissions.can_lock_organisation_name(current_user)
    if not may_lock:
        del form.name_locked
    if not permissions.can_rename_organisation(current_user, organisation):
        form.name.render_kw = {"readonly": True}
        form.name.description = LOCKED
    if form.validate_on_submit() and _save(form, organisation, may_lock):
        flash("The organisation's profile has been saved.", "success")
        return redirect(url_for("orgs.show", slug=organisation.slug))
    status = 400 if form.errors or any(field.errors for field in form) else 200
    return render_template("orgs/edit.html", form=form, organisation=organisation), status


def _save(form: OrganisationForm, organisation, may_lock: bool) -> bool:
    """Apply the form; False (with the reason on the name field) if the name cannot be used."""
    name = " ".join((form.name.data or "").split())
    if name != organisation.name and not permissions.can_rename_organisation(
        current_user, organisation
    ):
        form.name.errors.append(LOCKED)
        return False
    try:
        names.rename(db.session, organisation, name, by=current_user, now=utcnow())
        for field in FIELDS:
            setattr(organisation, field, (getattr(form, field).data or "").strip())
        if may_lock:
            names.set_name_lock(db.session, organisation, form.name_locked.data)
        db.session.commit()
    except names.NameUnavailable as refusal:
        db.session.rollback()
        form.name.errors.append(str(refusal))
        return False
    except IntegrityError:  # another organisation took the name a moment ago
        db.session.rollback()
        form.name.errors.append("Another organisation has just taken that name. Choose another.")
        return False
    return True
