"""Organisation names: no two organisations share one, however it is spelt or spaced; a
renamed organisation shows "formerly ..." for 90 days, and keeps its old name from everyone
else meanwhile; a name a site admin locks only admins change. Explicit arguments; flush only."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import FormerName, Organisation, User
from kb.models.org import name_key

FORMER_NAME_DAYS = 90


class NameUnavailable(ValueError):
    """The name is another organisation's (or was, recently); ``str()`` says so."""


def holder(
    session: Session, name: str, now: datetime, *, besides: Organisation | None = None
) -> Organisation | None:
    """The organisation other than ``besides`` that has ``name``, or gave it up less than
    ``FORMER_NAME_DAYS`` ago."""
    key, other = name_key(name), besides.id if besides is not None else None
    current = session.scalar(select(Organisation).where(Organisation.name_key == key))
    if current is not None and current.id != other:
        return current
    recent = [FormerName.name_key == key,
              FormerName.renamed_at > now - timedelta(days=FORMER_NAME_DAYS)]  # fmt: skip
    if other is not None:
        recent.append(FormerName.organisation_id != other)
    former = session.scalar(select(FormerName).where(*recent).limit(1))
    return former.organisation if former is not None else None


def check_available(
    session: Session, name: str, now: datetime, *, besides: Organisation | None = None
) -> None:
    """Raise ``NameUnavailable`` unless ``name`` is free for ``besides`` (or a new one)."""
    found = holder(session, name, now, besides=besides)
    if found is None:
        return
    if found.name_key == name_key(name):
        raise NameUnavailable(f"{found.name} is already on Span. Choose a name that tells "
                              "yours apart, for example with your area.")  # fmt: skip
    raise NameUnavailable(f"That was {found.name}'s name until recently, so it cannot be used "
                          "yet. Choose another.")  # fmt: skip


def rename(
    session: Session, organisation: Organisation, name: str, *, by: User | None, now: datetime
) -> bool:
    """Give ``organisation`` a new name, keeping the old one as a former name. Changing only
    the case or spacing of its own name is allowed; anything else must be free."""
    name = " ".join(name.split())
    if name == organisation.name:
        return False
    if name_key(name) != organisation.name_key:
        check_available(session, name, now, besides=organisation)
    session.add(
        FormerName(
            organisation_id=organisation.id,
            name=organisation.name,
            name_key=organisation.name_key,
            renamed_at=now,
            renamed_by_id=by.id if by is not None else None,
        )
    )
    organisation.name = name
    session.flush()
    return True


def former_names(session: Session, organisation: Organisation, now: datetime) -> list[str]:
    """The names ``organisation`` gave up in the last ``FORMER_NAME_DAYS`` days, newest first."""
    rows = session.scalars(
        select(FormerName)
        .where(
            FormerName.organisation_id == organisation.id,
            FormerName.renamed_at > now - timedelta(days=FORMER_NAME_DAYS),
            FormerName.name_key != organisation.name_key,
        )
        .order_by(FormerName.renamed_at.desc(), FormerName.id.desc())
    )
    return list(dict.fromkeys(row.name for row in rows))


def set_name_lock(session: Session, organisation: Organisation, locked: bool) -> None:
    """Lock or unlock the name (a site admin's decision; see ``permissions``)."""
    organisation.name_locked = locked
    session.flush()
