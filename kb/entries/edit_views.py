"""Views for writing entries: new, edit (with preview and conflicts), publish, archive, restore."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kb import permissions
from kb.db import db, utcnow
from kb.entries import bp
from kb.entries.conflicts import conflict_page
from kb.entries.content import (
    BODY_TEMPLATES,
    Content,
    current_content,
    prompts_left,
    prompts_message,
)
from kb.entries.editing import EditConflict, allowed_licences, new_entry, save_edit, set_status
from kb.entries.forms import EntryForm, entry_form
from kb.entries.lookup import load_entry
from kb.models import Entry, Kind, Organisation, Status
from kb.search import SearchUnavailable, get_index
from kb.search.similar import similar_to_text


def render_form(form: EntryForm, *, entry: Entry | None, organisation, status: int = 200, **extra):
    preview = form.preview() if request.form.get("action") == "preview" else None
    similar = None
    checked = entry is None and request.form.get("action") == "similar"
    if checked:
        similar = _similar(form)
    return (
        render_template(
            "entries/edit.html",
            form=form,
            entry=entry,
            organisation=organisation,
            kind=Kind(form.kind.data),
            preview=preview,
            similar=similar,
            similar_unavailable=checked and similar is None,
            has_errors=any(field.errors for field in form),
            **extra,
        ),
        status,
    )


def _prompts_refused(form: EntryForm, *, publishing: bool) -> bool:
    """Whether to refuse the save: publishing a text that still holds the template's prompts.
    The error, on the text field, names the sections."""
    left = prompts_left(form.kind.data, form.body.data or "")
    if left and publishing:
        form.body.errors = [*form.body.errors, prompts_message(left, publishing=True)]
        return True
    return False


def _warn_of_prompts(kind: str, body: str) -> None:
    """A draft may keep the prompts for now; say which sections still do."""
    left = prompts_left(kind, body)
    if left:
        flash(prompts_message(left, publishing=False), "warning")


def _similar(form: EntryForm):
    """Published entries like the form's title and summary; None while search catches up."""
    try:
        return similar_to_text(
            get_index(), db.session, title=form.title.data or "", summary=form.summary.data or ""
        )
    except SearchUnavailable:
        return None


def _organisations() -> list[Organisation]:
    if not permissions.can_choose_organisation(current_user):
        return []
    return list(db.session.scalars(select(Organisation).order_by(Organisation.name)))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    permissions.require(permissions.can_create(current_user))
    kind = request.values.get("kind", "")
    if kind not in {k.value for k in Kind}:
        if request.method == "POST":
            abort(400)
        return render_template("entries/new_kind.html")
    organisations = _organisations()
    form = entry_form(kind, organisations)
    if request.method == "GET":
        form.fill(Content(title="", summary="", body=BODY_TEMPLATES[kind], licence="OGL-UK-3.0"))
        if organisations:
            form.organisation.data = (
                current_user.organisation.slug if current_user.organisation else None
            )
    organisation = _owner(form, organisations)
    if request.method == "GET" or request.form.get("action") in {"preview", "similar"}:
        return render_form(form, entry=None, organisation=organisation)
    publish = request.form.get("action") == "publish"
    if not form.validate() or _prompts_refused(form, publishing=publish):
        return render_form(form, entry=None, organisation=organisation, status=400)
    if publish:
        permissions.require(permissions.can_publish_new(current_user, organisation))
    if not request.form.get("similar_dismissed"):
        very_similar = [item for item in _similar(form) or [] if item.very_similar]
        if very_similar:
            # Nothing is saved yet; the author reads these, then saves anyway or stops.
            return render_form(
                form, entry=None, organisation=organisation, similar_warning=very_similar,
                similar_action="publish" if publish else "draft",
            )  # fmt: skip
    entry = new_entry(
        db.session,
        organisation=organisation,
        author=current_user,
        kind=kind,
        content=form.content(),
        status=(Status.PUBLISHED if publish else Status.DRAFT).value,
        open_to_any_member=form.open_to_any_member.data
        and permissions.can_open_to_any_member(current_user, organisation),
        edit_summary=form.edit_summary.data or "",
        now=utcnow(),
    )
    db.session.commit()
    flash(
        "Published." if publish else "Saved as a draft. Only your organisation can see it.",
        "success",
    )
    if not publish:
        _warn_of_prompts(kind, form.body.data or "")
    return redirect(url_for("entries.show", slug=entry.slug))


def _owner(form: EntryForm, organisations: list[Organisation]) -> Organisation:
    """Whose entry a new one is: the writer's organisation, or the admin's choice."""
    if organisations:
        chosen = next((o for o in organisations if o.slug == form.organisation.data), None)
        if chosen is not None:
            return chosen
        if current_user.organisation is None:
            return organisations[0]
    permissions.require(current_user.organisation is not None)
    return current_user.organisation


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    entry = load_entry(slug)
    permissions.require(permissions.can_edit(current_user, entry))
    form = entry_form(entry.kind)
    form.limit_licences(allowed_licences(db.session, entry))
    if request.method == "GET":
        form.fill(current_content(entry))
        form.base_revision.data = str(entry.current_revision_number)
        form.open_to_any_member.data = entry.open_to_any_member
        return render_form(form, entry=entry, organisation=entry.organisation)
    if request.form.get("action") == "preview":
        form.validate()
        return render_form(form, entry=entry, organisation=entry.organisation)
    action = request.form.get("action")
    publishing = action == "publish" or entry.status == Status.PUBLISHED.value
    if not form.validate() or _prompts_refused(form, publishing=publishing):
        return render_form(form, entry=entry, organisation=entry.organisation, status=400)
    if action == "publish":
        permissions.require(permissions.can_publish(current_user, entry))
    may_open = permissions.can_open_to_any_member(current_user, entry.organisation)
    try:
        result = save_edit(
            db.session,
            entry,
            author=current_user,
            content=form.content(),
            base=form.base(),
            edit_summary=form.edit_summary.data or "",
            now=utcnow(),
            status=Status.PUBLISHED.value if action == "publish" else None,
            open_to_any_member=form.open_to_any_member.data if may_open else None,
        )
    except EditConflict as conflict:
        db.session.rollback()
        return conflict_page(conflict, form)
    db.session.commit()
    if not result.changed:
        flash("Nothing was saved: the entry is the same as before.", "info")
    elif result.revision is None:
        flash("Published." if result.status_changed else "Settings saved.", "success")
    else:
        flash(f"Saved as revision {result.revision.number}.", "success")
    if not publishing:
        _warn_of_prompts(entry.kind, form.body.data or "")
    return redirect(url_for("entries.show", slug=entry.slug))


def _change_status(slug: str, allowed, status: Status, message: str):
    entry = load_entry(slug)
    permissions.require(allowed(current_user, entry))
    set_status(db.session, entry, status, utcnow())
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("entries.show", slug=entry.slug))


@bp.post("/<slug>/publish")
@login_required
def publish(slug: str):
    entry = load_entry(slug)
    permissions.require(permissions.can_publish(current_user, entry))
    left = prompts_left(entry.kind, entry.current_revision.body)
    if left:  # not published: the writer fixes the text first
        flash(prompts_message(left, publishing=True), "error")
        return redirect(url_for("entries.edit", slug=entry.slug))
    return _change_status(slug, permissions.can_publish, Status.PUBLISHED, "Published.")


@bp.post("/<slug>/archive")
@login_required
def archive(slug: str):
    return _change_status(
        slug,
        permissions.can_archive,
        Status.ARCHIVED,
        "Archived. It stays readable, marked as no longer maintained; restore it at any time.",
    )


@bp.post("/<slug>/restore")
@login_required
def restore(slug: str):
    return _change_status(
        slug, permissions.can_restore, Status.PUBLISHED, "Restored and published."
    )
