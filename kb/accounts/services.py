"""Account services: registration, approvals, roles. Explicit arguments; flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kb.accounts.sessions import end_all_sessions
from kb.models import Organisation, OrganisationRequest, RequestStatus, Role, Sector, User
from kb.orgs.names import check_available
from kb.slugs import unique_slug


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_taken(session: Session, email: str) -> bool:
    return bool(session.scalar(select(exists().where(User.email == normalise_email(email)))))


@dataclass(frozen=True)
class NewOrganisation:
    """What someone told us about an organisation that is not on Span yet."""

    name: str
    sector: Sector
    website: str = ""


def create_account(
    session: Session,
    *,
    email: str,
    display_name: str,
    password_hash: str,
    organisation: Organisation | None,
    role: Role | str,
    now: datetime,
    approved: bool,
    is_demo: bool = False,
) -> User:
    """A new account: the one way accounts are made, whether by registering, by
    ``kb create-user`` or for the sample catalogue's demo. ``approved`` accounts may act for
    their organisation at once; others wait for its editors (or a site admin)."""
    user = User(
        email=normalise_email(email),
        display_name=display_name.strip(),
        password_hash=password_hash,
        organisation=organisation,
        role=Role(role).value,
        created_at=now,
        approved_at=now if approved else None,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    return user


def register(
    session: Session,
    *,
    email: str,
    display_name: str,
    password_hash: str,
    organisation: Organisation | None,
    new_organisation: NewOrganisation | None,
    now: datetime,
) -> User:
    """A new member awaiting approval: by their organisation's editors, or by a site admin
    deciding the request for a new organisation."""
    user = create_account(
        session, email=email, display_name=display_name, password_hash=password_hash,
        organisation=organisation, role=Role.MEMBER, now=now, approved=False,
    )  # fmt: skip
    if new_organisation is not None:
        session.add(
            OrganisationRequest(
                requester=user,
                name=new_organisation.name.strip(),
                sector=new_organisation.sector,
                website=new_organisation.website.strip(),
                created_at=now,
            )
        )
    session.flush()
    return user


def change_password(session: Session, user: User, password_hash: str) -> None:
    """Give ``user`` a new password. A password change ends every session: each signed-in
    browser, and any copy of its cookie, stops working (the caller signs its own browser in
    afresh)."""
    user.password_hash = password_hash
    end_all_sessions(session, user)
    session.flush()


def pending_request(session: Session, user: User) -> OrganisationRequest | None:
    return session.scalar(
        select(OrganisationRequest).where(
            OrganisationRequest.requester_id == user.id,
            OrganisationRequest.status == RequestStatus.PENDING.value,
        )
    )


def approve_request(session: Session, request: OrganisationRequest, now: datetime) -> Organisation:
    """Create the organisation; the person who asked becomes its first editor. Raises
    ``NameUnavailable`` if another organisation has (or recently had) the name."""
    check_available(session, request.name, now)
    organisation = Organisation(
        slug=unique_slug(session, Organisation, request.name),
        name=request.name,
        sector=request.sector,
        website=request.website,
        created_at=now,
    )
    session.add(organisation)
    requester = request.requester
    requester.organisation = organisation
    requester.role = Role.EDITOR.value
    requester.approved_at = now
    request.status = RequestStatus.APPROVED.value
    request.decided_at = now
    request.organisation = organisation
    session.flush()
    return organisation


def decline_request(session: Session, request: OrganisationRequest, now: datetime) -> None:
    request.status = RequestStatus.DECLINED.value
    request.decided_at = now
    session.flush()


def set_role(session: Session, user: User, role: Role) -> None:
    """Change what someone may do. Editors and members need an organisation."""
    if role != Role.ADMIN and user.organisation_id is None:
        raise ValueError("members and editors belong to an organisation")
    user.role = role.value
    if user.approved_at is None and role == Role.ADMIN:
        user.approved_at = user.created_at
    session.flush()
