"""Helpers for the borrowing merge and permission tests: signed-in demo clients, copies made
through the real services, reading a copy's state back, and resolving conflict markers.

Like the other HTTP tests, data is set up in a session of its own (the ``store`` fixture) and
no app context is held while the test client makes requests.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from kb.borrowing.services import borrow, borrowing_content
from kb.borrowing.upstream import OURS_MARKER, SEPARATOR, THEIRS_MARKER
from kb.db import utcnow
from kb.entries.content import current_content
from kb.entries.editing import save_edit
from kb.models import Borrow, Entry, Organisation, Revision, User
from tests.editor_support import Page, entry_by_slug, send

UPDATE_NOTICE = "The original has changed since you borrowed it"


def demo_email(organisation: str, role: str = "member") -> str:
    return f"{role}@{organisation}.example"


def organisation(store, slug: str) -> Organisation:
    return store.scalar(select(Organisation).where(Organisation.slug == slug))


def user(store, email: str) -> User:
    return store.scalar(select(User).where(User.email == email))


def borrow_row(store, slug: str) -> Borrow:
    copy = entry_by_slug(store, slug)
    return store.scalar(select(Borrow).where(Borrow.entry_id == copy.id))


def revisions(store, slug: str) -> list[Revision]:
    copy = entry_by_slug(store, slug)
    query = select(Revision).where(Revision.entry_id == copy.id).order_by(Revision.number)
    return list(store.scalars(query))


def state(store, slug: str) -> tuple:
    """What a refused merge must leave alone: the copy's revisions and its borrow's base."""
    copy = entry_by_slug(store, slug)
    row = store.scalar(select(Borrow).where(Borrow.entry_id == copy.id))
    count = store.scalar(select(func.count(Revision.id)).where(Revision.entry_id == copy.id))
    base = (row.source_revision, row.dismissed_revision) if row else None
    return copy.current_revision_number, count, copy.current_revision.body, copy.licence, base


def make_copy(store, source: Entry, borrower: Organisation, author: User | None, **changes):
    """A copy of ``source`` for ``borrower``, made by the real borrowing service from the
    source's current revision; ``changes`` adapt its content first (as the borrow form would)."""
    status = changes.pop("status", "published")
    content = replace(borrowing_content(source), **changes)
    copy = borrow(
        store,
        source,
        organisation=borrower,
        author=author,
        content=content,
        source_revision=source.current_revision_number,
        note="Adapted for our teams.",
        status=status,
        now=utcnow(),
    )
    store.flush()
    return copy


def revise(store, target: Entry, **changes):
    """A new revision of ``target`` (as its owners would save it), without HTTP."""
    content = replace(current_content(target), **changes)
    result = save_edit(
        store,
        target,
        author=None,
        content=content,
        base=target.current_revision_number,
        edit_summary="Revised for the test",
        now=utcnow(),
    )
    assert result.revision is not None
    store.flush()
    return result.revision


def edit_form(client, slug: str) -> MultiDict:
    response = client.get(f"/entries/{slug}/edit")
    assert response.status_code == 200, response.status_code
    return Page(response.text).form(f"/entries/{slug}/edit")


def edit_over_http(client, slug: str, change) -> object:
    """Open the edit form, apply ``change`` (body -> body) and save; returns the response."""
    form = edit_form(client, slug)
    form["body"] = change(form["body"])
    form["action"] = "save"
    return send(client, f"/entries/{slug}/edit", form)


def merge_url(slug: str) -> str:
    return f"/entries/{slug}/upstream/merge"


def merge_page(client, slug: str):
    """The merge page and what its form would submit."""
    response = client.get(merge_url(slug))
    assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
    form = Page(response.text).form(merge_url(slug))
    form["action"] = "save"
    return response, form


def changed(form: MultiDict, **changes) -> MultiDict:
    """A copy of ``form`` with ``changes`` (a list sets every value of a multi-valued field;
    None removes the field)."""
    form = form.copy()
    for name, value in changes.items():
        if value is None:
            form.poplist(name)
        elif isinstance(value, list):
            form.setlist(name, value)
        else:
            form[name] = value
    return form


def post_merge(client, slug: str, form) -> object:
    return send(client, merge_url(slug), form)


CONFLICT = re.compile(
    rf"^{re.escape(OURS_MARKER)}\n(.*?)^{SEPARATOR}\n(.*?)^{re.escape(THEIRS_MARKER)}[^\n]*\n",
    re.S | re.M,
)


def conflict_blocks(body: str) -> list[tuple[str, str]]:
    """Each conflict in ``body`` as (ours, theirs)."""
    return [(m.group(1), m.group(2)) for m in CONFLICT.finditer(body)]


def resolve(body: str, choose) -> str:
    """``body`` with each conflict replaced by ``choose(ours, theirs)``; a conflict for which
    ``choose`` returns None stays as it is, markers and all."""

    def replacement(match) -> str:
        chosen = choose(match.group(1), match.group(2))
        return match.group(0) if chosen is None else chosen

    return CONFLICT.sub(replacement, body)


def flashes(client, url: str) -> str:
    """The flash messages shown on the next page at ``url``."""
    page = client.get(url).text
    return " ".join(re.findall(r'<p class="flash[^"]*">(.*?)</p>', page, re.S))
