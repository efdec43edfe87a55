"""All models, importable from one place so Alembic and the app see the same metadata."""

from kb.models.borrowing import NOTE_MAX, Adoption, Borrow, BorrowRequest, BorrowRequestStatus
from kb.models.entry import (
    LICENCE_CODES,
    SUMMARY_MAX,
    AppendOnlyError,
    Entry,
    EvidenceStage,
    Kind,
    Outcome,
    Revision,
    Status,
    entry_channels,
    entry_sectors,
    entry_topics,
)
from kb.models.notification import (
    Event,
    Follow,
    FollowKind,
    Notification,
    OutboxMessage,
    ReviewReminder,
)
from kb.models.org import FormerName, Organisation
from kb.models.search import SearchChange, SearchLogHorizon, SearchReplica
from kb.models.taxonomy import Channel, Sector, Topic
from kb.models.user import (
    EmailFrequency,
    LoginThrottle,
    OrganisationRequest,
    RequestStatus,
    Role,
    User,
    UserSession,
)

__all__ = [
    "EmailFrequency",
    "Event",
    "Follow",
    "FollowKind",
    "Notification",
    "OutboxMessage",
    "ReviewReminder",
    "NOTE_MAX",
    "Adoption",
    "Borrow",
    "BorrowRequest",
    "BorrowRequestStatus",
    "LICENCE_CODES",
    "SUMMARY_MAX",
    "AppendOnlyError",
    "Channel",
    "Entry",
    "FormerName",
    "EvidenceStage",
    "Kind",
    "LoginThrottle",
    "Organisation",
    "OrganisationRequest",
    "Outcome",
    "RequestStatus",
    "Revision",
    "Role",
    "SearchChange",
    "SearchLogHorizon",
    "SearchReplica",
    "Sector",
    "Status",
    "Topic",
    "User",
    "UserSession",
    "entry_channels",
    "entry_sectors",
    "entry_topics",
]
