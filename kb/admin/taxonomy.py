"""Views for site admins to add and rename sectors, channels and topics.

Slugs never change once made, so links and filters keep working; terms are not deleted,
because entries and organisations refer to them.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import func, select

from kb.admin import bp
from kb.admin.forms import TermForm
from kb.db import db
from kb.models import TERM_MODELS
from kb.slugs import unique_slug

# Each kind of term by its URL name ("sectors"), with its model and its name in words.
KINDS = {f"{name}s": (model, name) for name, model in TERM_MODELS.items()}


def _kind(kind: str):
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


@bp.get("/taxonomy")
def taxonomy():
    terms = {
        kind: db.session.scalars(select(model).order_by(model.position, model.name)).all()
        for kind, (model, _label) in KINDS.items()
    }
    return render_template("admin/taxonomy.html", terms=terms, kinds=KINDS)


def _term_page(form: TermForm, kind: str, term=None, status: int = 200):
    model, label = _kind(kind)
    return render_template("admin/term.html", form=form, kind=kind, label=label, term=term), status


@bp.route("/taxonomy/<kind>/new", methods=["GET", "POST"])
def new_term(kind: str):
    model, label = _kind(kind)
    form = TermForm()
    if not form.validate_on_submit():
        return _term_page(form, kind, status=400 if form.errors else 200)
    last = db.session.scalar(select(func.max(model.position))) or 0
    term = model(
        slug=unique_slug(db.session, model, form.name.data),
        name=form.name.data.strip(),
        description=(form.description.data or "").strip(),
        position=last + 1,
    )
    db.session.add(term)
    db.session.commit()
    flash(f"Added the {label} {term.name}.", "success")
    return redirect(url_for("admin.taxonomy"))


@bp.route("/taxonomy/<kind>/<slug>", methods=["GET", "POST"])
def edit_term(kind: str, slug: str):
    model, label = _kind(kind)
    term = db.session.scalar(select(model).where(model.slug == slug))
    if term is None:
        abort(404)
    form = TermForm(obj=term)
    if not form.validate_on_submit():
        return _term_page(form, kind, term, status=400 if form.errors else 200)
    term.name = form.name.data.strip()
    term.description = (form.description.data or "").strip()
    db.session.commit()
    flash(f"Saved the {label} {term.name}.", "success")
    return redirect(url_for("admin.taxonomy"))
