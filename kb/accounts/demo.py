"""Demo accounts for the sample catalogue: a member and an editor per sample organisation, and
one site admin. They share one published password, so they exist only beside sample content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.accounts.services import create_account
from kb.models import Organisation, Role, User

DEMO_PASSWORD = "sample-catalogue-demo"  # noqa: S105 - published on purpose, sample data only
ADMIN_EMAIL = "admin@span.example"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    organisation: str


def _wanted(organisations: list[Organisation]) -> list[tuple[str, str, str, Organisation | None]]:
    wanted: list[tuple[str, str, str, Organisation | None]] = [
        (ADMIN_EMAIL, "Sample site admin", Role.ADMIN.value, None)
    ]
    for org in organisations:
        for role in (Role.EDITOR, Role.MEMBER):
            wanted.append(
                (f"{role.value}@{org.slug}.example", f"Sample {role.value}, {org.name}", role, org)
            )
    return wanted


def create_demo_accounts(session: Session, password_hash: str, now: datetime) -> int:
    """Add whichever demo accounts are missing; returns how many were added."""
    organisations = list(
        session.scalars(
            select(Organisation).where(Organisation.is_sample).order_by(Organisation.name)
        )
    )
    existing = set(session.scalars(select(User.email)))
    added = 0
    for email, name, role, organisation in _wanted(organisations):
        if email in existing:
            continue
        create_account(
            session, email=email, display_name=name, password_hash=password_hash,
            organisation=organisation, role=role, now=now, approved=True, is_demo=True,
        )  # fmt: skip
        added += 1
    return added


def demo_accounts(session: Session) -> list[DemoAccount]:
    """The demo accounts present, admin first, then by organisation."""
    users = session.scalars(select(User).where(User.is_demo)).all()
    accounts = [
        DemoAccount(u.email, u.role_label, u.organisation.name if u.organisation else "")
        for u in users
    ]
    return sorted(accounts, key=lambda a: (a.organisation != "", a.organisation, a.role))
