"""Who may do what. Every decision about access lives here and nowhere else.

Views call these functions (with ``require`` or ``require_found``); templates may only use them
to show or hide a control. ``user`` is the signed-in user, or ``None``/an anonymous user.

The rules, in the users' words:
- anyone reads published (and archived) entries; drafts only their own organisation (and admins);
- approved members write entries for their own organisation and edit its entries, plus any
  published entry its owners opened to any member;
- organisation editors also publish, archive and restore their organisation's entries, open them
  to any member, keep its profile up to date, and approve people who ask to join;
- site admins do everything, including organisation requests, roles and the taxonomy;
- archived entries are read-only until restored; nothing is ever deleted through the UI;
- approved members of another organisation borrow (adapt) or adopt published entries; an
  "ask first" entry needs its owners' permission, which its editors grant; the borrowing
  organisation's members see and merge changes made to the original after they borrowed it.
"""

from __future__ import annotations

from flask import abort

from kb.licences import LICENCES
from kb.models import Entry, Organisation, Role, Status

PUBLIC_STATUSES = frozenset({Status.PUBLISHED.value, Status.ARCHIVED.value})


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def is_admin(user) -> bool:
    return _signed_in(user) and user.role == Role.ADMIN.value


def is_active_member(user) -> bool:
    """Signed in, belongs to an organisation, and that membership is approved."""
    return _signed_in(user) and user.organisation_id is not None and user.is_approved


def _member_of(user, organisation_id: int) -> bool:
    return is_active_member(user) and user.organisation_id == organisation_id


def _editor_of(user, organisation_id: int) -> bool:
    return _member_of(user, organisation_id) and user.role == Role.EDITOR.value


def can_view(user, entry: Entry) -> bool:
    """Published and archived entries are public; drafts belong to their organisation."""
    if entry.status in PUBLIC_STATUSES:
        return True
    return is_admin(user) or _member_of(user, entry.organisation_id)


def drafts_in_search(user) -> Organisation | None:
    """Whose drafts ``user``'s search results may include: their own organisation's, if they
    are an approved member of one. (Admins find other organisations' drafts by browsing.)"""
    return user.organisation if is_active_member(user) else None


def can_create(user) -> bool:
    """Whether ``user`` may start a new entry (for some organisation)."""
    return is_admin(user) or is_active_member(user)


def can_choose_organisation(user) -> bool:
    """Admins pick the owning organisation of a new entry; everyone else writes for their own."""
    return is_admin(user)


def can_edit(user, entry: Entry) -> bool:
    if entry.status == Status.ARCHIVED.value:
        return False
    if is_admin(user) or _member_of(user, entry.organisation_id):
        return True
    return (
        entry.open_to_any_member
        and entry.status == Status.PUBLISHED.value
        and is_active_member(user)
    )


def can_revert(user, entry: Entry) -> bool:
    """Reverting writes a new revision, so it is an edit."""
    return can_edit(user, entry)


def _runs(user, entry: Entry) -> bool:
    return is_admin(user) or _editor_of(user, entry.organisation_id)


def can_publish(user, entry: Entry) -> bool:
    return entry.status == Status.DRAFT.value and _runs(user, entry)


def can_publish_new(user, organisation: Organisation) -> bool:
    """Whether a new entry for ``organisation`` may be published straight away by ``user``."""
    return is_admin(user) or _editor_of(user, organisation.id)


def can_archive(user, entry: Entry) -> bool:
    return entry.status != Status.ARCHIVED.value and _runs(user, entry)


def can_restore(user, entry: Entry) -> bool:
    return entry.status == Status.ARCHIVED.value and _runs(user, entry)


def can_open_to_any_member(user, organisation: Organisation) -> bool:
    """Opening an entry to members of other organisations is the owning editors' call."""
    return is_admin(user) or _editor_of(user, organisation.id)


def can_edit_organisation(user, organisation: Organisation) -> bool:
    """The organisation's public profile: its editors' to keep up to date, and admins'."""
    return is_admin(user) or _editor_of(user, organisation.id)


def can_rename_organisation(user, organisation: Organisation) -> bool:
    """Its editors rename their organisation, unless a site admin has locked its name."""
    return can_edit_organisation(user, organisation) and (
        is_admin(user) or not organisation.name_locked
    )


def can_lock_organisation_name(user) -> bool:
    """Locking a name against renames (say, after an impersonation) is for site admins."""
    return is_admin(user)


def can_manage_members(user, organisation: Organisation) -> bool:
    return is_admin(user) or _editor_of(user, organisation.id)


def can_decide_membership(user, person) -> bool:
    """Approving or declining someone is for people still waiting to join; once approved, only
    an admin changes what they may do (so an editor cannot demote a fellow editor)."""
    organisation = person.organisation
    return (
        organisation is not None
        and not person.is_approved
        and can_manage_members(user, organisation)
    )


def can_change_role(user, person, role: Role) -> bool:
    """Admins set roles, but never take away their own admin role (so one always remains)."""
    return is_admin(user) and not (person.id == user.id and role != Role.ADMIN)


def can_administer(user) -> bool:
    """Organisation requests, roles and the taxonomy."""
    return is_admin(user)


def _from_elsewhere(user, entry: Entry) -> bool:
    """An approved member of an organisation other than the entry's, and it is published."""
    published = entry.status == Status.PUBLISHED.value
    return published and borrowing_organisation(user, entry) is not None


def borrowing_organisation(user, entry: Entry) -> Organisation | None:
    """The organisation ``user`` borrows, adopts or asks for ``entry`` on behalf of: theirs,
    if they are an approved member and it is not the entry's own."""
    if is_active_member(user) and user.organisation_id != entry.organisation_id:
        return user.organisation
    return None


def can_borrow(user, entry: Entry, *, granted: bool = False) -> bool:
    """Adapt ``entry`` as a new entry of the user's organisation. "Ask first" entries need a
    granted request (``granted``). Members of the owning organisation edit it instead."""
    return _from_elsewhere(user, entry) and (LICENCES[entry.licence].adaptable or granted)


def can_ask_to_borrow(user, entry: Entry) -> bool:
    """Ask the owners of an "ask first" entry for permission to adapt it."""
    return _from_elsewhere(user, entry) and not LICENCES[entry.licence].adaptable


def can_adopt(user, entry: Entry) -> bool:
    """Say "we use this as it is" on behalf of the user's organisation."""
    return _from_elsewhere(user, entry)


def can_withdraw_adoption(user, adoption) -> bool:
    return is_admin(user) or _member_of(user, adoption.organisation_id)


def can_decide_borrow_request(user, request) -> bool:
    """Granting or declining a request to adapt an entry is for the entry's editors."""
    return request.is_pending and (
        is_admin(user) or _editor_of(user, request.entry.organisation_id)
    )


def can_see_borrow_requests(user, organisation: Organisation) -> bool:
    return is_admin(user) or _editor_of(user, organisation.id)


def can_see_upstream(user, copy: Entry) -> bool:
    """Whether "the original has changed since you borrowed it" is shown to ``user``."""
    return is_admin(user) or _member_of(user, copy.organisation_id)


def can_merge_upstream(user, copy: Entry) -> bool:
    """Merging the original's changes into a copy, or dismissing them, is an edit by the
    borrowing organisation."""
    return copy.status != Status.ARCHIVED.value and can_see_upstream(user, copy)


def can_see_borrowed(user, organisation: Organisation) -> bool:
    """The organisation's list of what it has borrowed and adopted, with pending updates."""
    return is_admin(user) or _member_of(user, organisation.id)


def can_follow(user) -> bool:
    """Following things, and the inbox that goes with it, need an account."""
    return _signed_in(user)


def can_see_notification(user, notification, entry: Entry | None, subject=None) -> bool:
    """A notification is shown to its own person only, and only while they may still see
    what it is about (checked when it is made, and again whenever it is shown)."""
    if not _signed_in(user) or notification.user_id != user.id:
        return False
    if entry is not None and not can_view(user, entry):
        return False
    if subject is not None:  # someone asking to join: for whoever may still decide it
        return subject.is_approved or can_decide_membership(user, subject)
    return True


def require(allowed: bool) -> None:
    """Stop the request with 403 unless ``allowed``."""
    if not allowed:
        abort(403)


def require_visible(allowed: bool) -> None:
    """Stop the request with 404 unless ``allowed`` (hiding what a reader may not see)."""
    if not allowed:
        abort(404)
