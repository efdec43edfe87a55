"""View for editing an organisation's public profile (its editors and site admins)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from kb import permissions
from kb.db import db
from kb.orgs import bp
from kb.orgs.forms import OrganisationForm
from kb.orgs.lookup import load_organisation

FIELDS = ("name", "region", "website", "contact", "description")


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    organisation = load_organisation(slug)
    permissions.require(permissions.can_edit_organisation(current_user, organisation))
    form = OrganisationForm(obj=organisation)
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template("orgs/edit.html", form=form, organisation=organisation), status
    for name in FIELDS:
        setattr(organisation, name, (getattr(form, name).data or "").strip())
    db.session.commit()
    flash("The organisation's profile has been saved.", "success")
    return redirect(url_for("orgs.show", slug=organisation.slug))
