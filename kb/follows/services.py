"""Following and unfollowing; what a person follows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import Channel, Entry, Follow, FollowKind, Organisation, Sector, Topic

MODELS = {
    FollowKind.ENTRY: Entry,
    FollowKind.SECTOR: Sector,
    FollowKind.CHANNEL: Channel,
    FollowKind.TOPIC: Topic,
    FollowKind.ORGANISATION: Organisation,
}
MAX_FOLLOWS = 500  # per person: enough for anyone, and a bound on what one person can add


class TooManyFollows(Exception):
    pass


def find(session: Session, user, kind: FollowKind, target_id: int = 0, query: str = ""):
    return session.scalar(select(Follow).where(
        Follow.user_id == user.id, Follow.kind == kind.value, Follow.target_id == target_id,
        Follow.query == query,
    ))  # fmt: skip


def follow(session: Session, user, kind: FollowKind, *, target_id: int = 0, query: str = "",
           name: str = "") -> Follow:  # fmt: skip
    """Follow a thing (again: nothing changes if already followed). Flushes."""
    existing = find(session, user, kind, target_id, query)
    if existing is not None:
        if name and existing.name != name:
            existing.name = name
            session.flush()
        return existing
    count = session.scalar(select(Follow.id).where(Follow.user_id == user.id)
                           .offset(MAX_FOLLOWS - 1).limit(1))  # fmt: skip
    if count is not None:
        raise TooManyFollows()
    added = Follow(user_id=user.id, kind=kind.value, target_id=target_id, query=query, name=name)
    session.add(added)
    session.flush()
    return added


def unfollow(session: Session, user, follow_id: int) -> bool:
    """Stop following; False if ``follow_id`` is not one of the person's own. Flushes."""
    found = session.get(Follow, follow_id)
    if found is None or found.user_id != user.id:
        return False
    session.delete(found)
    session.flush()
    return True


@dataclass(frozen=True)
class Followed:
    follow: Follow
    kind: FollowKind
    label: str
    thing: object | None  # the entry, sector ... (None for a search, or one that is gone)


def following(session: Session, user) -> list[Followed]:
    """Everything ``user`` follows, by kind and name."""
    found = []
    for item in session.scalars(select(Follow).where(Follow.user_id == user.id)):
        kind = FollowKind(item.kind)
        thing = session.get(MODELS[kind], item.target_id) if kind in MODELS else None
        label = item.name or item.query if kind == FollowKind.SEARCH else _label(thing)
        found.append(Followed(item, kind, label, thing))
    order = list(FollowKind)
    return sorted(found, key=lambda f: (order.index(f.kind), f.label.lower()))


def _label(thing) -> str:
    if thing is None:
        return "(no longer there)"
    return getattr(thing, "title", None) or thing.name
