"""A savepoint inside a request's transaction is rolled back with it, on SQLite too.

SQLite's driver starts a transaction only at the first write; a savepoint opened before then
used to be a transaction of its own, committed the moment it was released, so a new entry
(whose slug is retried inside a savepoint) outlived the rollback of its request.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb.db import db, utcnow
from kb.entries.content import Content
from kb.entries.editing import new_entry
from kb.models import Entry, Organisation

DATABASES = ["catalogue_app", "postgres_catalogue_app"]


@pytest.mark.parametrize("fixture", DATABASES, ids=["sqlite", "postgresql"])
def test_a_new_entry_is_rolled_back_with_its_request(request, fixture):
    app = request.getfixturevalue(fixture)
    with app.app_context():
        session = db.session
        before = session.scalar(select(func.count()).select_from(Entry))
        organisation = session.scalar(select(Organisation).limit(1))
        content = Content(
            title="Rolled back with its request",
            summary="Never kept.",
            body="## Context\n\nText.",
            channels=("x-twitter",),
            licence="OGL-UK-3.0",
        )
        new_entry(
            session,
            organisation=organisation,
            author=None,
            kind="guidance",
            content=content,
            status="published",
            open_to_any_member=False,
            edit_summary="",
            now=utcnow(),
        )
        session.rollback()
        # A connection of its own, which sees only what was committed.
        with db.engine.connect() as other:
            assert other.scalar(select(func.count()).select_from(Entry)) == before
