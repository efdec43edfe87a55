"""Follow and unfollow buttons (plain forms: they work without JavaScript), and the list of
what a person follows."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from kb import permissions
from kb.db import db
from kb.follows import bp
from kb.follows.services import MODELS, TooManyFollows, find, follow, following, unfollow
from kb.models import Entry, FollowKind
from kb.search.matching import saved_query
from kb.security import safe_next

NAME_MAX = 120


def _back() -> str:
    return safe_next(request.form.get("next")) or url_for("follows.following_page")


def _target(kind: FollowKind, slug: str):
    model = MODELS[kind]
    thing = db.session.scalar(select(model).where(model.slug == slug[:200]))
    if thing is None or (
        isinstance(thing, Entry) and not permissions.can_view(current_user, thing)
    ):
        abort(404)
    return thing


@bp.post("/follow")
@login_required
def toggle():
    """Follow, or (``action=unfollow``) stop following, a thing named by kind and slug, or a
    search named by its query string."""
    permissions.require(permissions.can_follow(current_user))
    try:
        kind = FollowKind(request.form.get("kind", ""))
    except ValueError:
        abort(400)
    if kind == FollowKind.SEARCH:
        query = saved_query(MultiDict(_parse(request.form.get("query", ""))))
        target_id, label = 0, " ".join(request.form.get("name", "").split())[:NAME_MAX]
        label = label or query_label(query)
    else:
        thing = _target(kind, request.form.get("target", ""))
        query, target_id = "", thing.id
        label = getattr(thing, "title", None) or thing.name
    if request.form.get("action") == "unfollow":
        existing = find(db.session, current_user, kind, target_id, query)
        if existing is not None:
            unfollow(db.session, current_user, existing.id)
        db.session.commit()
        flash(f"You no longer follow {label}.", "success")
        return redirect(_back())
    try:
        follow(db.session, current_user, kind, target_id=target_id, query=query, name=label)
    except TooManyFollows:
        db.session.rollback()
        flash("You follow as many things as Span allows. Stop following something first.",
              "error")  # fmt: skip
        return redirect(url_for("follows.following_page"))
    db.session.commit()
    flash(f"You follow {label}. New and changed entries will appear in your notifications.",
          "success")  # fmt: skip
    return redirect(_back())


def _parse(text: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(text[:2000])[:60]


def query_label(query: str) -> str:
    words = MultiDict(_parse(query)).get("q", "")
    return f"Search: {words}" if words else "Search with filters"


@bp.get("/account/following")
@login_required
def following_page():
    items = [
        item for item in following(db.session, current_user)
        if not isinstance(item.thing, Entry) or permissions.can_view(current_user, item.thing)
    ]  # fmt: skip
    return render_template("follows/following.html", items=items)


@bp.post("/account/following/<int:follow_id>/remove")
@login_required
def remove(follow_id: int):
    if not unfollow(db.session, current_user, follow_id):
        abort(404)
    db.session.commit()
    flash("Stopped following.", "success")
    return redirect(url_for("follows.following_page"))
