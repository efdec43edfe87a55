"""Merging an original's later changes into a borrowed copy, over HTTP on the sample
catalogue, whose ``borrowing.yaml`` updates give two copies a clean merge
(strathbeck-flood-and-storm-warnings-three-channels, harrowdale-accessible-posts-checklist)
and two a conflicting one (glenharrow-staff-posting-openly-at-work,
kelderwick-accessible-posts-checklist): the notice on the copy, the merge page, saving,
conflicts, dismissing, stale and bad forms, ShareAlike, and the organisation's borrowed list.
The merge itself is tested in test_borrowing_merge_unit.py.
"""

from __future__ import annotations

import html
import re

import pytest

from kb.accounts.demo import DEMO_PASSWORD
from kb.borrowing.upstream import (
    OURS_MARKER,
    SEPARATOR,
    THEIRS_MARKER,
    has_markers,
)
from kb.entries.content import current_content
from kb.models import User
from tests.editor_support import Page, add_user, entry_by_slug, send, slug_from
from tests.factories import TEST_PASSWORD, make_entry, make_organisation
from tests.merge_support import (
    UPDATE_NOTICE,
    borrow_row,
    changed,
    conflict_blocks,
    demo_email,
    edit_form,
    edit_over_http,
    flashes,
    make_copy,
    merge_page,
    merge_url,
    post_merge,
    resolve,
    revise,
    revisions,
    state,
    user,
)
from tests.web import signed_in, summary_links, text

# --- Over HTTP: the sample catalogue's copies ---------------------------------------------------

CLEAN = "strathbeck-flood-and-storm-warnings-three-channels"  # copy by Strathbeck Council
CLEAN_ORG = "strathbeck-council"
CLEAN_SOURCE = "cairnloch-wildfire-flood-warnings-three-channels"
CLEAN_SOURCE_ORG = "cairnloch-fire-rescue"
DISMISSABLE = "harrowdale-accessible-posts-checklist"  # also merges cleanly
DISMISSABLE_ORG = "harrowdale-constabulary"
CHECKLIST = "strathbeck-accessible-posts-checklist"  # its source, Strathbeck Council's
CONFLICTING = {  # copy -> (its organisation, places where both changed the same words)
    "glenharrow-staff-posting-openly-at-work": ("glenharrow-health-board", 3),
    "kelderwick-accessible-posts-checklist": ("kelderwick-carers-link", 1),
}
UP_TO_DATE = "oakhurst-severe-weather-closure-warnings-three-channels"  # a copy of CLEAN
SHARE_ALIKE = "brackenfield-keeping-department-accounts-safe"
SHARE_ALIKE_ORG = "brackenfield-college"
SHARE_ALIKE_SOURCE = "millbridge-securing-officer-team-accounts"
SHARE_ALIKE_SOURCE_ORG = "millbridge-borough-council"


def _added_words(page: str) -> str:
    """The words an update notice or diff marks as added."""
    return " ".join(re.findall(r"\[added: </span>(.*?)<span", page, re.S))


def _notice(page: str) -> str:
    """The "the original has changed" notice on an entry page, or ''."""
    match = re.search(r'<section class="notice notice-update".*?</section>', page, re.S)
    return match.group(0) if match else ""


def _lines(body: str) -> set[str]:
    return {line for line in body.split("\n") if line.strip()}


def test_copy_page_tells_the_borrowing_organisation_what_changed(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(CLEAN_ORG), DEMO_PASSWORD)
    notice = _notice(text(member.get(f"/entries/{CLEAN}")))
    assert UPDATE_NOTICE in notice
    assert "is now at revision 2; your copy is based on revision 1" in notice
    assert "What changed in the original (revision 1 to 2)" in notice
    added = _added_words(notice)
    for word in ("reopened", "control", "room's"):  # the sample update's new words
        assert word in added
    assert f'href="{merge_url(CLEAN)}"' in notice
    assert f'action="/entries/{CLEAN}/upstream/dismiss"' in notice
    # Nobody outside the borrowing organisation is told.
    for reader in (None, demo_email(CLEAN_SOURCE_ORG, "editor"), demo_email("eastmarch-police")):
        page = signed_in(catalogue_app, reader, DEMO_PASSWORD).get(f"/entries/{CLEAN}").text
        assert UPDATE_NOTICE not in page, reader


def test_merge_page_proposes_and_saving_it_is_an_ordinary_edit(catalogue_app, store):
    before = state(store, CLEAN)
    source_before = entry_by_slug(store, CLEAN_SOURCE).revisions[0].body
    copy_before = entry_by_slug(store, CLEAN).current_revision.body
    theirs = entry_by_slug(store, CLEAN_SOURCE).current_revision.body
    member = signed_in(catalogue_app, demo_email(CLEAN_ORG), DEMO_PASSWORD)
    response, form = merge_page(member, CLEAN)
    page = text(response)
    assert "Merge the original's changes" in page and "conflicts-heading" not in page
    assert "What changed in the original (revision 1 to 2)" in page
    assert (form["base_revision"], form["upstream_revision"]) == ("1", "2")
    assert form["edit_summary"] == "Merged changes from the original, up to its revision 2"
    proposed = _lines(form["body"])
    assert _lines(theirs) - _lines(source_before) <= proposed  # the original's new lines
    assert _lines(copy_before) - _lines(source_before) <= proposed  # the copy's own lines
    assert not has_markers(form["body"])
    # Looking and previewing save nothing.
    preview = send(member, merge_url(CLEAN), changed(form, action="preview"))
    assert preview.status_code == 200 and 'id="preview-heading"' in preview.text
    assert state(store, CLEAN) == before

    response = post_merge(member, CLEAN, form)
    assert response.status_code == 302 and response.headers["Location"] == f"/entries/{CLEAN}"
    saved = revisions(store, CLEAN)
    assert [r.number for r in saved] == [1, 2]
    assert saved[-1].body == form["body"]
    assert saved[-1].author_id == user(store, demo_email(CLEAN_ORG)).id
    assert "Merged" in saved[-1].edit_summary
    row = borrow_row(store, CLEAN)
    assert (row.source_revision, row.borrowed_revision, row.dismissed_revision) == (2, 1, None)
    page = text(member.get(f"/entries/{CLEAN}"))
    assert "Merged. Your copy now includes the original's changes up to its revision 2." in page
    assert UPDATE_NOTICE not in page
    assert "(revision 2) by Cairnloch" in page  # the credit names the new base
    history = text(member.get(f"/entries/{CLEAN}/history"))
    assert "Merged changes from the original, up to its revision 2" in history

    # The original changes again: its editor saves revision 3, and the copy is told.
    source_editor = signed_in(catalogue_app, demo_email(CLEAN_SOURCE_ORG, "editor"), DEMO_PASSWORD)
    edited = edit_over_http(
        source_editor, CLEAN_SOURCE, lambda body: body + "\nNew: test the sirens every March.\n"
    )
    assert edited.status_code == 302
    notice = _notice(text(member.get(f"/entries/{CLEAN}")))
    assert "is now at revision 3; your copy is based on revision 2" in notice
    added = _added_words(notice)
    assert "sirens" in added and "reopened" not in added  # only what is new since the merge


@pytest.mark.parametrize("copy_slug", CONFLICTING)
def test_conflicts_keep_both_sides_and_must_be_resolved_before_saving(
    catalogue_app, store, copy_slug
):
    org, places = CONFLICTING[copy_slug]
    row = borrow_row(store, copy_slug)
    base_body = row.source.revisions[0].body
    ours_body = entry_by_slug(store, copy_slug).current_revision.body
    theirs_body = row.source.current_revision.body
    before = state(store, copy_slug)
    member = signed_in(catalogue_app, demo_email(org), DEMO_PASSWORD)
    response, form = merge_page(member, copy_slug)
    page = text(response)
    place_word = "place" if places == 1 else "places"
    assert f"{places} {place_word} where you both changed the same words" in page
    assert page.count("<h4>Your copy</h4>") == places
    assert page.count("<h4>The original, revision 2</h4>") == places
    blocks = conflict_blocks(form["body"])
    assert len(blocks) == places
    lines = form["body"].split("\n")
    assert lines.count(OURS_MARKER) == lines.count(SEPARATOR) == places
    assert lines.count(f"{THEIRS_MARKER}, revision 2") == places
    # Neither side's text is lost: every line either side changed is in the proposal.
    assert _lines(ours_body) - _lines(base_body) <= _lines(form["body"])
    assert _lines(theirs_body) - _lines(base_body) <= _lines(form["body"])

    # Saving with the markers still in: refused, said clearly, nothing saved, text kept.
    response = post_merge(member, copy_slug, form)
    assert response.status_code == 400
    assert {k: html.unescape(v) for k, v in summary_links(response.text).items()} == {
        "body": "Resolve each conflict in the text: keep the words you want, then delete the "
        "lines starting <<<<<<<, ======= and >>>>>>>"
    }
    assert "<title>Error:" in response.text
    assert Page(response.text).form(merge_url(copy_slug))["body"] == form["body"]
    assert state(store, copy_slug) == before
    if places > 1:  # resolving only some of them is not enough either
        first = iter([True])
        partly = resolve(form["body"], lambda ours, theirs: ours if next(first, False) else None)
        assert len(conflict_blocks(partly)) == places - 1
        assert post_merge(member, copy_slug, changed(form, body=partly)).status_code == 400
        assert state(store, copy_slug) == before

    # Resolved: the first conflict keeps the original's words, the others the copy's.
    choices = iter(["theirs"] + ["ours"] * (places - 1))
    resolved = resolve(
        form["body"], lambda ours, theirs: theirs if next(choices) == "theirs" else ours
    )
    assert not has_markers(resolved)
    assert blocks[0][1] in resolved and all(ours in resolved for ours, _ in blocks[1:])
    response = post_merge(member, copy_slug, changed(form, body=resolved))
    assert response.status_code == 302
    saved = revisions(store, copy_slug)
    assert [r.number for r in saved] == [1, 2] and saved[-1].body == resolved
    assert borrow_row(store, copy_slug).source_revision == 2
    assert entry_by_slug(store, copy_slug).licence == before[3]  # the copy's own licence
    assert UPDATE_NOTICE not in member.get(f"/entries/{copy_slug}").text


# --- A copy made here: title conflicts and sets -------------------------------------------------


@pytest.fixture
def own_copy(catalogue_app, store):
    """A copy made through the borrowing service, whose title and channels the borrowers
    changed; then the original changed its title, channels, topics and text."""
    owner = make_organisation(store, sector="police", name="Source Police")
    borrower = make_organisation(store, sector="health", name="Borrowing Health Board")
    body = "## Purpose\n\nFirst step.\n\nShared middle.\n\nSecond step.\n"
    source = make_entry(store, owner, title="Their first title", body=body,
                        channels=("x-twitter", "facebook"), topics=("evaluation",))  # fmt: skip
    store.commit()
    member = add_user(catalogue_app, store, borrower, display_name="Bea Borrower")
    copy = make_copy(
        store,
        source,
        borrower,
        store.get(User, member.id),
        title="Our title",
        channels=("x-twitter",),
        body=body.replace("First step.", "First step, for clinicians."),
    )
    revise(
        store,
        source,
        title="Their new title",
        channels=("x-twitter", "facebook", "sms-text"),
        topics=("evaluation", "accessibility"),
        body=body.replace("Second step.", "Second step, now with a checklist."),
    )
    store.commit()
    return copy.slug, member


def test_title_conflict_keeps_ours_in_the_form_and_shows_theirs(catalogue_app, store, own_copy):
    slug, member = own_copy
    client = signed_in(catalogue_app, member.email, TEST_PASSWORD)
    response, form = merge_page(client, slug)
    page = text(response)
    assert "1 place where you both changed the same words" in page
    conflicts = page[page.index('id="conflicts-heading"') : page.index("</section>")]
    assert "<h3>Title</h3>" in conflicts and "Their new title" in conflicts
    assert form["title"] == "Our title"
    assert set(form.getlist("channels")) == {"x-twitter", "sms-text"}  # facebook stays removed
    assert set(form.getlist("topics")) == {"evaluation", "accessibility"}
    assert "First step, for clinicians." in form["body"]
    assert "Second step, now with a checklist." in form["body"]
    assert not has_markers(form["body"])  # the text itself merged cleanly
    # Copying their title across is the person's choice, and saves like any edit.
    response = post_merge(client, slug, changed(form, title="Their new title"))
    assert response.status_code == 302
    saved = entry_by_slug(store, slug)
    assert (saved.title, saved.current_revision_number) == ("Their new title", 2)
    assert [c.slug for c in saved.channels] == ["x-twitter", "sms-text"]
    assert sorted(t.slug for t in saved.topics) == ["accessibility", "evaluation"]
    assert borrow_row(store, slug).source_revision == 2


def test_keeping_nothing_from_the_original_writes_no_empty_revision(catalogue_app, store, own_copy):
    slug, member = own_copy
    client = signed_in(catalogue_app, member.email, TEST_PASSWORD)
    _, form = merge_page(client, slug)
    ours = current_content(entry_by_slug(store, slug))
    unchanged = changed(
        form,
        title=ours.title,
        body=ours.body,
        channels=list(ours.channels),
        topics=list(ours.topics),
    )
    assert post_merge(client, slug, unchanged).status_code == 302
    assert [r.number for r in revisions(store, slug)] == [1]
    assert borrow_row(store, slug).source_revision == 2  # decided: nothing more to merge
    assert UPDATE_NOTICE not in client.get(f"/entries/{slug}").text


def test_conflicting_markup_is_shown_as_text(catalogue_app, store):
    owner = make_organisation(store, sector="police")
    borrower = make_organisation(store, sector="health")
    body = "## Context\n\nThe line both change.\n"
    source = make_entry(store, owner, title="Plain title", body=body)
    store.commit()
    member = add_user(catalogue_app, store, borrower)
    copy = make_copy(store, source, borrower, None, title="Ours <b>bold</b> & co",
                     body=body.replace("both change.", "both change: <em>ours</em>."))  # fmt: skip
    evil = "<script>alert('theirs')</script>"
    revise(store, source, title="<img src=x onerror=alert(1)>",
           body=body.replace("both change.", f"both change: {evil}"))  # fmt: skip
    store.commit()
    client = signed_in(catalogue_app, member.email, TEST_PASSWORD)
    response, form = merge_page(client, copy.slug)
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert "&lt;script&gt;alert(" in response.text and "&lt;img src=x" in response.text
    assert evil in form["body"] and "<em>ours</em>" in form["body"]  # kept, as text
    assert form["title"] == "Ours <b>bold</b> & co"
    page = client.get(f"/entries/{copy.slug}").text
    assert UPDATE_NOTICE in page and "<script>alert" not in page and "<img src=x" not in page


# --- Dismissing ---------------------------------------------------------------------------------


def _borrowed_row(page: str, slug: str) -> str:
    """The row of an organisation's borrowed list for the copy at ``slug``."""
    match = re.search(rf'<tr>\s*<th scope="row"><a href="/entries/{slug}">.*?</tr>', page, re.S)
    assert match, slug
    return match.group(0)


def test_dismissing_hides_the_notice_until_the_original_changes_again(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    before = state(store, DISMISSABLE)
    response = send(member, f"/entries/{DISMISSABLE}/upstream/dismiss", {})
    assert response.status_code == 302
    page = text(member.get(f"/entries/{DISMISSABLE}"))
    assert "Dismissed. You will be told again when the original next changes." in page
    assert UPDATE_NOTICE not in page
    row = borrow_row(store, DISMISSABLE)
    assert (row.source_revision, row.dismissed_revision) == (1, 2)
    assert state(store, DISMISSABLE)[:4] == before[:4]  # the copy itself is untouched
    listing = member.get(f"/orgs/{DISMISSABLE_ORG}/borrowed").text
    assert "Changes dismissed" in _borrowed_row(listing, DISMISSABLE)

    source_editor = signed_in(
        catalogue_app, demo_email("strathbeck-council", "editor"), DEMO_PASSWORD
    )
    edited = edit_over_http(
        source_editor, CHECKLIST, lambda body: body + "\nCheck colour contrast too.\n"
    )
    assert edited.status_code == 302
    notice = _notice(text(member.get(f"/entries/{DISMISSABLE}")))
    assert "is now at revision 3; your copy is based on revision 1" in notice
    assert "contrast" in _added_words(notice)
    listing = member.get(f"/orgs/{DISMISSABLE_ORG}/borrowed").text
    assert "The original has changed" in _borrowed_row(listing, DISMISSABLE)


def test_a_dismissed_update_can_still_be_merged(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    assert send(member, f"/entries/{DISMISSABLE}/upstream/dismiss", {}).status_code == 302
    _, form = merge_page(member, DISMISSABLE)
    assert "Say in words what a chart or map shows" in form["body"]
    assert post_merge(member, DISMISSABLE, form).status_code == 302
    row = borrow_row(store, DISMISSABLE)
    assert (row.source_revision, row.dismissed_revision) == (2, None)
    assert [r.number for r in revisions(store, DISMISSABLE)] == [1, 2]


# --- Stale forms and bad input ------------------------------------------------------------------

OWN_WORDS = "\nOur own note, written while merging: ask the access panel first.\n"


def test_a_copy_saved_meanwhile_is_a_conflict_that_keeps_your_text(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    _, form = merge_page(member, DISMISSABLE)
    editor = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG, "editor"), DEMO_PASSWORD)
    edit = edit_over_http(editor, DISMISSABLE, lambda body: body + "\nAn editor's addition.\n")
    assert edit.status_code == 302
    before = state(store, DISMISSABLE)
    mine = changed(form, body=form["body"] + OWN_WORDS, edit_summary="My merge")
    response = post_merge(member, DISMISSABLE, mine)
    assert response.status_code == 409
    page = text(response)
    assert "Someone saved your copy while you were merging" in page
    assert "Nothing has been saved, and your version is still in the form below." in page
    kept = Page(response.text).form(merge_url(DISMISSABLE))
    assert kept["body"] == mine["body"] and kept["edit_summary"] == "My merge"
    assert (kept["base_revision"], kept["upstream_revision"]) == ("2", "2")
    assert state(store, DISMISSABLE) == before  # the editor's revision 2 only; base still 1
    assert borrow_row(store, DISMISSABLE).source_revision == 1
    # Having checked the latest revision, they save again.
    kept["action"] = "save"
    assert post_merge(member, DISMISSABLE, kept).status_code == 302
    assert [r.number for r in revisions(store, DISMISSABLE)] == [1, 2, 3]
    assert borrow_row(store, DISMISSABLE).source_revision == 2


NOT_DIGITS = ["²", "٢", "２"]  # str.isdigit() says yes to these; int() reads some of them


@pytest.mark.parametrize(
    "upstream", [None, "", "abc", "-1", "0", "3", "99", "1.5", " ", "9" * 30, *NOT_DIGITS]
)
def test_an_upstream_revision_the_original_does_not_have_is_refused(catalogue_app, store, upstream):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    _, form = merge_page(member, DISMISSABLE)
    before = state(store, DISMISSABLE)
    response = post_merge(member, DISMISSABLE, changed(form, upstream_revision=upstream))
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"] == f"/entries/{DISMISSABLE}"
    message = flashes(member, f"/entries/{DISMISSABLE}")
    assert "That revision of the original does not exist." in message
    assert state(store, DISMISSABLE) == before


@pytest.mark.parametrize("base", [None, "", "abc", "0", "2", "-1", "9" * 30, *NOT_DIGITS])
def test_a_bad_base_revision_is_a_conflict_that_keeps_your_text(catalogue_app, store, base):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    _, form = merge_page(member, DISMISSABLE)
    before = state(store, DISMISSABLE)
    mine = changed(form, base_revision=base, body=form["body"] + OWN_WORDS)
    response = post_merge(member, DISMISSABLE, mine)
    assert response.status_code == 409
    assert Page(response.text).form(merge_url(DISMISSABLE))["body"] == mine["body"]
    assert state(store, DISMISSABLE) == before


def test_an_upstream_revision_already_merged_never_moves_the_base_back(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    _, form = merge_page(member, DISMISSABLE)
    response = post_merge(member, DISMISSABLE, changed(form, upstream_revision="1"))
    assert response.status_code == 302
    assert borrow_row(store, DISMISSABLE).source_revision == 1
    assert UPDATE_NOTICE in member.get(f"/entries/{DISMISSABLE}").text  # still to merge


def test_changes_made_to_the_original_while_you_merge_stay_pending(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    _, form = merge_page(member, DISMISSABLE)  # up to the original's revision 2
    owner = signed_in(catalogue_app, demo_email("strathbeck-council", "editor"), DEMO_PASSWORD)
    edit = edit_over_http(owner, CHECKLIST, lambda body: body + "\nTest with a screen reader.\n")
    assert edit.status_code == 302
    response = post_merge(member, DISMISSABLE, form)
    assert response.status_code == 302
    assert "up to its revision 2." in flashes(member, f"/entries/{DISMISSABLE}")
    assert borrow_row(store, DISMISSABLE).source_revision == 2
    assert (
        "Test with a screen reader." not in entry_by_slug(store, DISMISSABLE).current_revision.body
    )
    notice = _notice(text(member.get(f"/entries/{DISMISSABLE}")))
    assert "is now at revision 3; your copy is based on revision 2" in notice
    assert "Test with a screen reader." in _added_words(notice)


def test_posting_a_merge_twice_saves_it_once(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email(DISMISSABLE_ORG), DEMO_PASSWORD)
    _, form = merge_page(member, DISMISSABLE)
    assert post_merge(member, DISMISSABLE, form).status_code == 302
    after_first = state(store, DISMISSABLE)
    again = changed(form, body=form["body"] + OWN_WORDS)
    response = post_merge(member, DISMISSABLE, again)
    assert response.status_code == 409  # the copy moved on: it is the conflict page
    assert "Someone saved your copy while you were merging" in text(response)
    assert Page(response.text).form(merge_url(DISMISSABLE))["body"] == again["body"]
    assert state(store, DISMISSABLE) == after_first
    # Opening the merge page again: there is nothing left to merge.
    response = member.get(merge_url(DISMISSABLE))
    assert response.status_code == 302
    assert "There is nothing to merge" in flashes(member, f"/entries/{DISMISSABLE}")


RACED = "glenharrow-staff-posting-openly-at-work"


@pytest.mark.parametrize("source_moves_on", [False, True], ids=["same-update", "source-moved"])
def test_two_people_merging_the_same_update_lose_nothing(catalogue_app, store, source_moves_on):
    """Two people of the borrowing organisation open the merge page for the same update and
    resolve its conflicts differently. The first saves; the second gets the conflict page
    with their own resolution kept (even if the original gained a revision meanwhile), and
    can save it over the first once they have looked."""
    org = CONFLICTING[RACED][0]
    first = signed_in(catalogue_app, demo_email(org), DEMO_PASSWORD)
    second = signed_in(catalogue_app, demo_email(org, "editor"), DEMO_PASSWORD)
    _, first_form = merge_page(first, RACED)
    _, second_form = merge_page(second, RACED)
    first_body = resolve(first_form["body"], lambda ours, theirs: theirs)
    assert post_merge(first, RACED, changed(first_form, body=first_body)).status_code == 302
    if source_moves_on:
        owner = signed_in(catalogue_app, demo_email("eastmarch-police", "editor"), DEMO_PASSWORD)
        edited = edit_over_http(
            owner, "officers-and-staff-posting-openly-on-duty", lambda b: b + "\nThird.\n"
        )
        assert edited.status_code == 302
    second_body = resolve(second_form["body"], lambda ours, theirs: ours) + OWN_WORDS
    response = post_merge(second, RACED, changed(second_form, body=second_body))
    assert response.status_code == 409
    assert "Someone saved your copy while you were merging" in text(response)
    kept = Page(response.text).form(merge_url(RACED))
    assert kept["body"] == second_body and kept["base_revision"] == "2"
    assert [r.body for r in revisions(store, RACED)][1:] == [first_body]
    assert borrow_row(store, RACED).source_revision == 2

    kept["action"] = "save"
    assert post_merge(second, RACED, kept).status_code == 302
    assert [r.body for r in revisions(store, RACED)][1:] == [first_body, second_body]
    assert borrow_row(store, RACED).source_revision == 2  # never moves back, nor skips ahead


def test_nothing_to_merge_redirects_with_a_message(catalogue_app, store):
    member = signed_in(catalogue_app, demo_email("oakhurst-schools-trust"), DEMO_PASSWORD)
    before = state(store, UP_TO_DATE)
    response = member.get(merge_url(UP_TO_DATE))
    assert response.status_code == 302 and response.headers["Location"] == f"/entries/{UP_TO_DATE}"
    message = "There is nothing to merge: your copy is up to date with the original."
    assert message in flashes(member, f"/entries/{UP_TO_DATE}")
    form = {
        "base_revision": "1", "upstream_revision": "2", "title": "x", "summary": "x",
        "body": "x", "channels": ["x-twitter"], "licence": "OGL-UK-3.0", "action": "save",
    }  # fmt: skip
    assert send(member, merge_url(UP_TO_DATE), form).status_code == 302
    assert state(store, UP_TO_DATE) == before
    # An entry that is not a copy has nothing to merge from.
    strathbeck = signed_in(catalogue_app, demo_email("strathbeck-council"), DEMO_PASSWORD)
    assert strathbeck.get(merge_url(CHECKLIST)).status_code == 404
    assert send(strathbeck, f"/entries/{CHECKLIST}/upstream/dismiss", {}).status_code == 404


# --- ShareAlike ---------------------------------------------------------------------------------


def test_a_share_alike_copy_stays_share_alike_through_a_merge(catalogue_app, store):
    assert entry_by_slug(store, SHARE_ALIKE).licence == "CC-BY-SA-4.0"
    owner = signed_in(catalogue_app, demo_email(SHARE_ALIKE_SOURCE_ORG, "editor"), DEMO_PASSWORD)
    form = edit_form(owner, SHARE_ALIKE_SOURCE)
    form["body"] += "\nTurn on passkeys where the platform offers them.\n"
    form["licence"], form["action"] = "OGL-UK-3.0", "save"  # the original relicenses
    assert send(owner, f"/entries/{SHARE_ALIKE_SOURCE}/edit", form).status_code == 302
    assert entry_by_slug(store, SHARE_ALIKE_SOURCE).licence == "OGL-UK-3.0"

    member = signed_in(catalogue_app, demo_email(SHARE_ALIKE_ORG), DEMO_PASSWORD)
    response, form = merge_page(member, SHARE_ALIKE)
    assert re.findall(r'name="licence" value="([^"]+)"', response.text) == ["CC-BY-SA-4.0"]
    assert form["licence"] == "CC-BY-SA-4.0"
    before = state(store, SHARE_ALIKE)
    refused = post_merge(member, SHARE_ALIKE, changed(form, licence="OGL-UK-3.0"))
    assert refused.status_code == 400
    assert "This entry's licence must be Creative Commons Attribution-ShareAlike 4.0" in text(
        refused
    )
    assert state(store, SHARE_ALIKE) == before
    both = resolve(form["body"], lambda ours, theirs: ours + theirs)
    assert post_merge(member, SHARE_ALIKE, changed(form, body=both)).status_code == 302
    copy = entry_by_slug(store, SHARE_ALIKE)
    assert copy.licence == "CC-BY-SA-4.0" and copy.current_revision_number == 2
    assert copy.current_revision.details["licence"] == "CC-BY-SA-4.0"
    assert "passkeys" in copy.current_revision.body
    assert borrow_row(store, SHARE_ALIKE).licence == "CC-BY-SA-4.0"


# --- The organisation's list of what it borrowed and adopted -----------------------------------


def test_borrowed_list_puts_pending_updates_first_and_flags_changed_adoptions(catalogue_app, store):
    org = "oakhurst-schools-trust"
    member = signed_in(catalogue_app, demo_email(org), DEMO_PASSWORD)
    # A newer copy that is up to date...
    url = f"/entries/{CLEAN_SOURCE}/borrow"
    form = Page(member.get(url).text).form(url)
    form["note"], form["action"] = "Changed fire crews to school staff.", "draft"
    new_copy = slug_from(send(member, url, form))
    # ...an older one whose original changes now...
    strathbeck = signed_in(catalogue_app, demo_email("strathbeck-council", "editor"), DEMO_PASSWORD)
    assert edit_over_http(strathbeck, CLEAN, lambda b: b + "\nText the head first.\n").status_code
    # ...and a newer adoption of an entry that has not changed since.
    adopted = "officers-and-staff-posting-openly-on-duty"
    assert send(member, f"/entries/{adopted}/adopt", {"note": "Shown to staff."}).status_code == 302

    # Newest first alone would list the new copy first.
    assert borrow_row(store, new_copy).created_at > borrow_row(store, UP_TO_DATE).created_at

    page = text(member.get(f"/orgs/{org}/borrowed"))
    assert "1 original changed since you borrowed it." in page
    copies = page[page.index('id="copies-heading"') : page.index('id="adoptions-heading"')]
    assert copies.index(f'href="/entries/{UP_TO_DATE}"') < copies.index(
        f'href="/entries/{new_copy}"'
    )
    assert "The original has changed" in _borrowed_row(copies, UP_TO_DATE)
    assert f'href="{merge_url(UP_TO_DATE)}"' in _borrowed_row(copies, UP_TO_DATE)
    assert "Revision 1 of 2" in _borrowed_row(copies, UP_TO_DATE)
    assert "Up to date" in _borrowed_row(copies, new_copy)
    assert "Draft" in _borrowed_row(copies, new_copy)
    adoptions = page[page.index('id="adoptions-heading"') :]
    assert adoptions.index(f'href="/entries/{CHECKLIST}"') < adoptions.index(
        f'href="/entries/{adopted}"'
    )
    assert f'<strong>Changed</strong>: <a href="/entries/{CHECKLIST}/diff/1/2">' in adoptions
    later = adoptions[adoptions.index(f'href="/entries/{adopted}"') :]
    assert "Unchanged" in later.split("</tr>")[0]
