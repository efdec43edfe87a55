"""All models, importable from one place so Alembic and the app see the same metadata."""

from kb.models.borrowing import NOTE_MAX, Adoption, Borrow, BorrowRequest, BorrowRequestStatus
from kb.models.entry import (
    LICENCE_CODES,
    PUBLIC_STATUSES,
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
from kb.models.org import FormerName, Organisation
from kb.models.search import SearchChange, SearchLogHorizon, SearchReplica
from kb.models.taxonomy import TERM_MODELS, Channel, Sector, Topic
from kb.models.user import (
    LoginThrottle,
    OrganisationRequest,
    RequestStatus,
    Role,
    User,
    UserSession,
)

__all__ = [
    "NOTE_MAX",
    "Adoption",
    "Borrow",
    "BorrowRequest",
    "BorrowRequestStatus",
    "LICENCE_CODES",
    "PUBLIC_STATUSES",
    "SUMMARY_MAX",
    "TERM_MODELS",
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
