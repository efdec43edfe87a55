"""The inbox, email preferences, and unsubscribing from an email without signing in."""

from __future__ import annotations

import math

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select, update

from kb import permissions
from kb.db import db, utcnow
from kb.entries.listing import PAGE_NUMBER
from kb.models import EmailFrequency, Notification, User
from kb.notifications import bp, csrf_exempt
from kb.notifications.describe import describe
from kb.notifications.forms import PreferencesForm
from kb.notifications.outbox import shown, unsubscribe_user

PER_PAGE = 30
FREQUENCIES = {
    EmailFrequency.IMMEDIATELY.value: "Straight away, one email for each",
    EmailFrequency.DAILY.value: "Once a day, in one email",
    EmailFrequency.WEEKLY.value: "Once a week, in one email",
    EmailFrequency.OFF.value: "Never: I'll look in Span",
}


@bp.get("/notifications")
@login_required
def inbox():
    permissions.require(permissions.can_follow(current_user))
    page = request.args.get("page", "1")
    if not PAGE_NUMBER.fullmatch(page):
        abort(404)
    number = int(page)
    mine = select(Notification).where(Notification.user_id == current_user.id)
    total = db.session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    if number > pages:
        abort(404)
    rows = db.session.scalars(
        mine.order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PER_PAGE).offset((number - 1) * PER_PAGE)
    ).all()  # fmt: skip
    items = [(n, describe(db.session, n)) for n in rows if shown(db.session, current_user, n)]
    return render_template("notifications/inbox.html", items=items, number=number, pages=pages)


@bp.post("/notifications/read")
@login_required
def read_all():
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    flash("All your notifications are marked read.", "success")
    return redirect(url_for("notifications.inbox"))


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read_one(notification_id: int):
    notification = db.session.get(Notification, notification_id)
    permissions.require_visible(
        notification is not None and shown(db.session, current_user, notification)
    )
    notification.read_at = notification.read_at or utcnow()
    db.session.commit()
    return redirect(url_for("notifications.inbox", page=request.form.get("page") or None))


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm(frequency=current_user.email_frequency)
    form.frequency.choices = list(FREQUENCIES.items())
    if request.method == "POST":
        if not form.validate():
            return render_template("notifications/preferences.html", form=form), 400
        current_user.email_frequency = form.frequency.data
        db.session.commit()
        flash("Your email preferences are saved.", "success")
        return redirect(url_for("notifications.preferences"))
    return render_template("notifications/preferences.html", form=form)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf_exempt
def unsubscribe(token: str):
    """One click from an email, signed in or not: the link itself proves whose it is. A mail
    program's one-click unsubscribe (RFC 8058) is a POST with no session and no form token."""
    user_id = unsubscribe_user(current_app, token[:500])
    person = db.session.get(User, user_id) if user_id else None
    if person is None:
        return render_template("notifications/unsubscribe.html", invalid=True), 400
    if request.method == "POST":
        person.email_frequency = EmailFrequency.OFF.value
        db.session.commit()
        return render_template("notifications/unsubscribe.html", done=True, email=person.email)
    return render_template("notifications/unsubscribe.html", token=token, email=person.email)
