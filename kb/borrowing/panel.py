"""What an entry page shows about reuse, for one reader: the credit a copy gives, who borrowed
or adopted the entry, what the reader's organisation may do, and upstream changes."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import permissions
from kb.borrowing.lineage import Reuse, ancestors, reuse_of
from kb.borrowing.services import adoption_by, granted_request, pending_request
from kb.borrowing.upstream import has_update, revisions_since, source_content
from kb.entries.content import current_content
from kb.entries.describe import content_changes
from kb.licences import adapted_from
from kb.models import (
    Adoption,
    Borrow,
    BorrowRequest,
    BorrowRequestStatus,
    Entry,
    Revision,
    Status,
)


@dataclass(frozen=True)
class Credit:
    """One generation of a copy's lineage: ``borrow`` made ``borrow.entry`` from its source."""

    borrow: Borrow

    @property
    def source(self) -> Entry:
        return self.borrow.source

    @property
    def archived(self) -> bool:
        return self.source.status == Status.ARCHIVED.value

    @property
    def statement(self) -> str:
        """The attribution, generated from the source's fields and the licence it was
        borrowed under."""
        return adapted_from(
            self.borrow.licence,
            title=self.source.title,
            organisation=self.source.organisation.name,
            link=url_for("entries.show", slug=self.source.slug, _external=True),
            revision=self.borrow.source_revision,
        )


@dataclass
class Panel:
    credits: list[Credit]  # nearest source first, the original author last
    reuse: Reuse
    update: Borrow | None = None  # the copy's borrow, when the reader should see an update
    update_changes: dict | None = None
    update_revisions: list[Revision] = field(default_factory=list)  # the original's, since
    own_adoption: Adoption | None = None
    own_copies: list[Entry] = field(default_factory=list)
    own_request: BorrowRequest | None = None  # pending
    own_grant: BorrowRequest | None = None  # granted
    requests: list[BorrowRequest] = field(default_factory=list)  # pending, for the owners

    @property
    def is_copy(self) -> bool:
        return bool(self.credits)

    @property
    def granted(self) -> bool:
        return self.own_grant is not None


def entry_panel(session: Session, entry: Entry, user) -> Panel:
    """Everything about reuse that ``user`` may see on ``entry``'s page."""
    panel = Panel(
        credits=[Credit(b) for b in ancestors(session, entry)], reuse=reuse_of(session, entry)
    )
    if panel.credits and permissions.can_see_upstream(user, entry):
        borrow = panel.credits[0].borrow
        if has_update(borrow):
            panel.update = borrow
            panel.update_revisions = revisions_since(session, borrow.source, borrow.source_revision)
            base = source_content(session, borrow.source, borrow.source_revision)
            if base is not None:
                panel.update_changes = content_changes(base, current_content(borrow.source))
    organisation = permissions.borrowing_organisation(user, entry)
    if organisation is not None:
        panel.own_adoption = adoption_by(session, entry, organisation)
        panel.own_copies = list(
            session.scalars(
                select(Entry)
                .join(Borrow, Borrow.entry_id == Entry.id)
                .where(Borrow.source_id == entry.id, Entry.organisation_id == organisation.id)
            )
        )
        panel.own_grant = granted_request(session, entry, organisation)
        panel.own_request = pending_request(session, entry, organisation)
    if permissions.can_see_borrow_requests(user, entry.organisation):
        panel.requests = list(
            session.scalars(
                select(BorrowRequest)
                .where(
                    BorrowRequest.entry_id == entry.id,
                    BorrowRequest.status == BorrowRequestStatus.PENDING.value,
                )
                .order_by(BorrowRequest.created_at)
            )
        )
    return panel
