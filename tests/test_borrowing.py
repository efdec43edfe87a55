"""Borrowing through HTTP: licence rules and credit, asking first, the borrow form, a copy as an
ordinary entry, bad input, archived originals, and who borrowed or adopted an entry.

Real SQLite file, real search index, real requests with CSRF; nothing is mocked.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.models import Adoption, BorrowRequest, Revision
from tests.borrowing_support import (
    NOTE,
    Body,
    attribution,
    borrow,
    borrow_form,
    borrow_row,
    borrowed,
    copy_slug,
    full_form,
    lineage_panel,
    page_text,
    source_entry,
    tally,
)
from tests.editor_support import Page, entry_by_slug, fresh, send
from tests.search_support import found
from tests.web import post

OGL_WORDING = "Contains public sector information licensed under the Open Government Licence v3.0"
LINK = "http://localhost/entries/{}"


@pytest.fixture
def lender(catalogue_app, store):
    return Body(catalogue_app, store, "health", "Lending Health Board")


@pytest.fixture
def borrower(catalogue_app, store):
    return Body(catalogue_app, store, "police", "Borrowing Police Force")


def _credit(page: str, source_title: str) -> str:
    """The credit paragraph naming ``source_title`` in the copy's attribution box."""
    credits = [p for p in attribution(page) if f"“{source_title}”" in p and "Adapted" in p]
    assert len(credits) == 1, attribution(page)
    return credits[0]


# 1. Licences and credit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_licence", "copy_licence", "licence_name", "licence_url"),
    [
        ("OGL-UK-3.0", "CC-BY-4.0", "Open Government Licence v3.0", None),
        ("CC-BY-4.0", "OGL-UK-3.0", "Creative Commons Attribution 4.0",
         "https://creativecommons.org/licenses/by/4.0/"),
    ],
)  # fmt: skip
def test_open_licences_may_be_adapted_under_another_licence_with_full_credit(
    catalogue_app, store, lender, borrower, source_licence, copy_licence, licence_name,
    licence_url,
):  # fmt: skip
    source = source_entry(store, lender, title="Clinic reminders by text", licence=source_licence)
    client = borrower.client()
    assert borrow_form(client, source.slug).getlist("licence") == [source_licence]
    offered = Page(client.get(f"/entries/{source.slug}/borrow").text)
    assert offered.ids.get("licence-3") == "input"  # all four licences are offered
    copy = borrowed(client, source.slug, licence=copy_licence, title="Custody reminders by text")
    assert entry_by_slug(store, copy).licence == copy_licence
    assert borrow_row(store, copy).licence == source_licence
    page = page_text(catalogue_app.test_client().get(f"/entries/{copy}"))
    credit = _credit(page, "Clinic reminders by text")
    for part in ("Lending Health Board", LINK.format(source.slug), "(revision 1)", licence_name):
        assert part in credit, (part, credit)
    if source_licence == "OGL-UK-3.0":
        assert credit.startswith(OGL_WORDING + ". Adapted from “Clinic reminders by text”")
    else:
        assert licence_url in credit and OGL_WORDING not in credit
    # The copy's own attribution statement is for its own licence, and comes first.
    assert "Custody reminders by text" in attribution(page)[0]
    # Nothing binds an open licence's copy: its own edits may choose any licence.
    assert Page(client.get(f"/entries/{copy}/edit").text).ids.get("licence-3") == "input"
    panel = lineage_panel(page)
    assert "Adapted from Clinic reminders by text by Lending Health Board (Health)" in panel
    assert f"revision 1, {licence_name}" in panel
    assert NOTE in panel


def test_share_alike_forces_the_same_licence_on_the_copy_and_its_later_edits(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender, title="Ward photos consent", licence="CC-BY-SA-4.0")
    client = borrower.client()
    form = borrow_form(client, source.slug)
    shown = Page(client.get(f"/entries/{source.slug}/borrow").text)
    assert form["licence"] == "CC-BY-SA-4.0"
    assert "licence-0" in shown.ids and "licence-1" not in shown.ids  # one choice only
    before = tally(store)
    refused = borrow(client, source.slug, licence="OGL-UK-3.0")
    assert refused.status_code == 400
    message = "This entry's licence must be Creative Commons Attribution-ShareAlike 4.0"
    assert message in page_text(refused)
    assert tally(store) == before

    copy = borrowed(client, source.slug, licence="CC-BY-SA-4.0")
    assert entry_by_slug(store, copy).licence == "CC-BY-SA-4.0"
    edit = Page(client.get(f"/entries/{copy}/edit").text)
    assert "licence-1" not in edit.ids  # the edit form offers only ShareAlike too
    data = edit.form("/edit")
    data["licence"], data["action"], data["title"] = "CC-BY-4.0", "save", "Relicensed title"
    before = tally(store)
    response = send(client, f"/entries/{copy}/edit", data)
    assert response.status_code == 400
    assert message in page_text(response)
    assert tally(store) == before
    assert (entry_by_slug(store, copy).licence, entry_by_slug(store, copy).title) == (
        "CC-BY-SA-4.0",
        "Ward photos consent",
    )
    # An ordinary edit that keeps the licence still works.
    data["licence"] = "CC-BY-SA-4.0"
    assert send(client, f"/entries/{copy}/edit", data).status_code == 302
    assert entry_by_slug(store, copy).title == "Relicensed title"
    assert entry_by_slug(store, copy).licence == "CC-BY-SA-4.0"


def test_share_alike_binds_every_later_generation(catalogue_app, store, lender, borrower):
    source = source_entry(store, lender, licence="CC-BY-SA-4.0")
    first = borrowed(borrower.client(), source.slug)
    council = Body(catalogue_app, store, "local-government", "Share Alike Council")
    client = council.client()
    before = tally(store)
    assert borrow(client, first, licence="CC-BY-4.0").status_code == 400
    assert tally(store) == before
    second = borrowed(client, first)
    assert entry_by_slug(store, second).licence == "CC-BY-SA-4.0"
    assert borrow_row(store, second).licence == "CC-BY-SA-4.0"


def test_an_unrelated_entry_may_still_change_licence(catalogue_app, store, borrower):
    """The ShareAlike lock is for copies only."""
    own = source_entry(store, borrower, licence="CC-BY-SA-4.0")
    client = borrower.client()
    data = Page(client.get(f"/entries/{own.slug}/edit").text).form("/edit")
    data["licence"], data["action"] = "OGL-UK-3.0", "save"
    assert send(client, f"/entries/{own.slug}/edit", data).status_code == 302
    assert entry_by_slug(store, own.slug).licence == "OGL-UK-3.0"


def test_the_borrow_form_reminds_what_the_licence_does_not_cover(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender, title="Carers' podcast")
    response = borrower.client().get(f"/entries/{source.slug}/borrow")
    page = page_text(response)
    assert "logos, photographs of people and material the original uses from third parties" in page
    # The credit the copy will carry is shown before saving.
    assert "Adapted from “Carers' podcast” (revision 1) by Lending Health Board, " in page
    form = Page(response.text).form("/borrow")
    assert form["source_revision"] == "1"
    assert form["title"] == "Carers' podcast" and form["body"] == source.current_revision.body


# 1b. Ask first ---------------------------------------------------------------------------------


@pytest.fixture
def ask_first(store, lender):
    return source_entry(store, lender, title="Nurse recruitment podcast", licence="ask-first")


def _requests_page(client, body: Body):
    return client.get(f"/orgs/{body.slug}/borrow-requests")


def test_ask_first_sends_people_to_ask_and_refuses_a_borrow(
    catalogue_app, store, lender, borrower, ask_first
):
    client = borrower.client()
    response = client.get(f"/entries/{ask_first.slug}/borrow")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/entries/{ask_first.slug}/ask"
    before = tally(store)
    posted = send(client, f"/entries/{ask_first.slug}/borrow", full_form(ask_first))
    assert posted.status_code == 302  # sent to ask, with nothing saved
    assert posted.headers["Location"] == f"/entries/{ask_first.slug}/ask"
    assert tally(store) == before
    page = page_text(client.get(f"/entries/{ask_first.slug}"))
    assert "Ask to borrow" in page and "Borrow this" not in page


def test_asking_first_then_granted_lets_the_borrower_adapt_and_the_copy_stays_ask_first(
    catalogue_app, store, lender, borrower, ask_first
):
    client = borrower.client()
    message = "We would like to adapt this for special constable recruitment."
    assert send(client, f"/entries/{ask_first.slug}/ask", {"message": message}).status_code == 302
    fresh(store)
    [request] = store.scalars(select(BorrowRequest).where(BorrowRequest.entry_id == ask_first.id))
    assert (request.status, request.organisation_id, request.message) == (
        "pending", borrower.organisation.id, message,
    )  # fmt: skip
    assert "You have asked to borrow this" in page_text(client.get(f"/entries/{ask_first.slug}"))

    # The owning organisation's editors see it, on the entry page and on their list...
    owner = lender.client("editor")
    listing = _requests_page(owner, lender)
    assert listing.status_code == 200
    assert "Borrowing Police Force" in page_text(listing) and message in page_text(listing)
    assert "1 request to borrow this." in page_text(owner.get(f"/entries/{ask_first.slug}"))
    # ...its members do not, nor does anyone else.
    member = lender.client("member")
    assert _requests_page(member, lender).status_code == 403
    assert "request to borrow this" not in page_text(member.get(f"/entries/{ask_first.slug}"))
    assert _requests_page(client, lender).status_code == 403
    assert "request to borrow this" not in page_text(client.get(f"/entries/{ask_first.slug}"))

    assert send(owner, f"/borrow-requests/{request.id}/grant", {}).status_code == 302
    fresh(store)
    assert store.get(BorrowRequest, request.id).status == "granted"

    form = borrow_form(client, ask_first.slug)
    assert form["licence"] == "ask-first"
    assert "licence-1" not in Page(client.get(f"/entries/{ask_first.slug}/borrow").text).ids
    before = tally(store)
    relicensed = borrow(client, ask_first.slug, licence="OGL-UK-3.0")
    assert relicensed.status_code == 400
    assert "This entry's licence must be Ask before reusing" in page_text(relicensed)
    assert tally(store) == before
    copy = borrowed(client, ask_first.slug, title="Special constable recruitment podcast")
    assert entry_by_slug(store, copy).licence == "ask-first"
    assert borrow_row(store, copy).licence == "ask-first"
    credit = _credit(page_text(client.get(f"/entries/{copy}")), "Nurse recruitment podcast")
    assert credit.endswith("with the permission of Lending Health Board.")
    # The copy asks to be asked in its turn.
    outsider = Body(catalogue_app, store, "education", "Third College")
    assert outsider.client().get(f"/entries/{copy}/borrow").headers["Location"].endswith("/ask")


def test_a_declined_request_still_cannot_borrow(catalogue_app, store, lender, borrower, ask_first):
    client = borrower.client()
    send(client, f"/entries/{ask_first.slug}/ask", {"message": "Please may we?"})
    fresh(store)
    request = store.scalar(select(BorrowRequest).where(BorrowRequest.entry_id == ask_first.id))
    owner = lender.client()
    assert send(owner, f"/borrow-requests/{request.id}/decline", {}).status_code == 302
    fresh(store)
    assert store.get(BorrowRequest, request.id).status == "declined"
    # Answered once: granting it afterwards changes nothing.
    send(owner, f"/borrow-requests/{request.id}/grant", {})
    fresh(store)
    assert store.get(BorrowRequest, request.id).status == "declined"
    before = tally(store)
    assert client.get(f"/entries/{ask_first.slug}/borrow").headers["Location"].endswith("/ask")
    posted = send(client, f"/entries/{ask_first.slug}/borrow", full_form(ask_first))
    assert posted.status_code == 302
    assert posted.headers["Location"] == f"/entries/{ask_first.slug}/ask"
    assert tally(store) == before


def test_asking_needs_a_message_and_saves_nothing_without_one(
    catalogue_app, store, borrower, ask_first
):
    before = tally(store)
    response = send(borrower.client(), f"/entries/{ask_first.slug}/ask", {"message": "  "})
    assert response.status_code == 400
    assert "Say what you would like to do with it" in page_text(response)
    assert tally(store) == before


# 1c. The borrow form --------------------------------------------------------------------------


def test_a_missing_note_is_refused_and_nothing_is_saved(catalogue_app, store, lender, borrower):
    source = source_entry(store, lender)
    before = tally(store)
    for note in ("", "   \n "):
        response = borrow(borrower.client(), source.slug, note=note)
        assert response.status_code == 400
        page = page_text(response)
        assert "Say what you changed and why" in page and "<title>Error: " in page
        assert tally(store) == before


def test_drafts_and_archived_entries_cannot_be_borrowed(catalogue_app, store, lender, borrower):
    draft = source_entry(store, lender, status="draft")
    archived = source_entry(store, lender, status="archived")
    client = borrower.client()
    before = tally(store)
    assert client.get(f"/entries/{draft.slug}/borrow").status_code == 404
    assert send(client, f"/entries/{draft.slug}/borrow", full_form(draft)).status_code == 404
    assert client.get(f"/entries/{archived.slug}/borrow").status_code == 403
    assert send(client, f"/entries/{archived.slug}/borrow", full_form(archived)).status_code == 403
    # Even the owners' colleagues cannot "borrow" their own draft.
    own = lender.client("member")
    assert own.get(f"/entries/{draft.slug}/borrow").status_code == 403
    assert tally(store) == before


def test_own_organisation_cannot_borrow_its_own_entry(catalogue_app, store, lender):
    source = source_entry(store, lender)
    client = lender.client()
    before = tally(store)
    assert client.get(f"/entries/{source.slug}/borrow").status_code == 403
    assert send(client, f"/entries/{source.slug}/borrow", full_form(source)).status_code == 403
    assert tally(store) == before


def test_anonymous_readers_are_asked_to_sign_in(catalogue_app, store, lender):
    source = source_entry(store, lender)
    anonymous = catalogue_app.test_client()
    response = anonymous.get(f"/entries/{source.slug}/borrow")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "Sign in to borrow" in page_text(anonymous.get(f"/entries/{source.slug}"))


# 1d. A copy is an ordinary entry --------------------------------------------------------------


def test_a_copy_is_an_ordinary_entry_with_its_first_revision_as_submitted(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender, title="Waiting list updates")
    client = borrower.client()
    body = "## Context\n\nZorblatting custody updates for families.\n"
    copy = borrowed(client, source.slug, title="Zorblatted custody updates", body=body,
                    summary="Our custody version.", channels=["facebook", "sms-text"])  # fmt: skip
    made = entry_by_slug(store, copy)
    assert made.status == "published" and made.organisation_id == borrower.organisation.id
    assert made.origin_sector.slug == "police" and made.kind == source.kind
    [first] = store.scalars(select(Revision).where(Revision.entry_id == made.id))
    assert (first.number, first.title, first.summary, first.body) == (
        1, "Zorblatted custody updates", "Our custody version.", body,
    )  # fmt: skip
    assert first.author_id == borrower.editor.id
    assert "Waiting list updates" in first.edit_summary and NOTE in first.edit_summary
    assert sorted(c.slug for c in made.channels) == ["facebook", "sms-text"]
    row = borrow_row(store, copy)
    assert (row.source_id, row.source_revision, row.borrowed_revision, row.note) == (
        source.id, 1, 1, NOTE,
    )  # fmt: skip
    # Searchable straight away, and editable like any other entry.
    assert copy in found(catalogue_app.test_client(), "zorblatted")
    data = Page(client.get(f"/entries/{copy}/edit").text).form("/edit")
    data["body"], data["action"] = body + "\nA second thought.\n", "save"
    assert send(client, f"/entries/{copy}/edit", data).status_code == 302
    assert entry_by_slug(store, copy).current_revision_number == 2
    assert borrow_row(store, copy).source_revision == 1  # the lineage is data, not text


def test_a_member_saves_a_draft_copy_only_their_organisation_sees(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender)
    member = borrower.client("member")
    before = tally(store)
    assert borrow(member, source.slug, action="publish").status_code == 403
    assert tally(store) == before
    copy = borrowed(member, source.slug, action="draft", title="Quaggablot draft copy")
    assert entry_by_slug(store, copy).status == "draft"
    assert member.get(f"/entries/{copy}").status_code == 200
    assert catalogue_app.test_client().get(f"/entries/{copy}").status_code == 404
    assert lender.client().get(f"/entries/{copy}").status_code == 404
    assert found(catalogue_app.test_client(), "quaggablot") == []
    # The draft copy is not shown on the original's page yet.
    assert "Borrowed by" not in lineage_panel(
        page_text(lender.client().get(f"/entries/{source.slug}"))
    )
    assert send(borrower.client(), f"/entries/{copy}/publish", {}).status_code == 302
    assert copy in found(catalogue_app.test_client(), "quaggablot")


def test_a_note_with_markup_is_shown_as_text_everywhere(catalogue_app, store, lender, borrower):
    source = source_entry(store, lender)
    note = '<script>alert("note")</script> & <b>bold</b>'
    copy = borrowed(borrower.client(), source.slug, note=note)
    assert borrow_row(store, copy).note == note
    anonymous = catalogue_app.test_client()
    for url in (f"/entries/{copy}", f"/entries/{copy}/lineage", f"/entries/{copy}/what-we-changed"):
        raw = anonymous.get(url).get_data(as_text=True)
        assert "<script>alert" not in raw and "<b>bold</b>" not in raw, url
        assert "&lt;script&gt;alert(" in raw, url


def test_open_to_any_member_ticked_on_the_borrow_form_takes_effect(
    catalogue_app, store, lender, borrower
):
    """Regression: the checkbox was offered to editors and silently ignored (fixed in 9230516)."""
    source = source_entry(store, lender)
    client = borrower.client()
    assert Page(client.get(f"/entries/{source.slug}/borrow").text).ids.get(
        "open_to_any_member"
    ) == "input"  # fmt: skip
    copy = borrowed(client, source.slug, open_to_any_member="y")
    assert entry_by_slug(store, copy).open_to_any_member


def test_an_edit_summary_typed_on_the_borrow_form_is_kept(catalogue_app, store, lender, borrower):
    """Regression: the typed edit summary was replaced by a generated one (fixed in 9230516)."""
    source = source_entry(store, lender)
    client = borrower.client()
    assert "edit_summary" in borrow_form(client, source.slug)
    copy = borrowed(client, source.slug, edit_summary="Adapted for custody suites")
    assert "Adapted for custody suites" in entry_by_slug(store, copy).current_revision.edit_summary


def test_the_borrow_records_the_revision_the_form_was_filled_from(
    catalogue_app, store, lender, borrower
):
    """The source changed while the form was open: the copy is based on what was shown."""
    source = source_entry(store, lender, body="First version of the text.\n")
    client = borrower.client()
    form = borrow_form(client, source.slug)
    owner = lender.client()
    data = Page(owner.get(f"/entries/{source.slug}/edit").text).form("/edit")
    data["body"], data["action"] = "Second version of the text.\n", "save"
    assert send(owner, f"/entries/{source.slug}/edit", data).status_code == 302
    assert entry_by_slug(store, source.slug).current_revision_number == 2
    form["note"], form["action"] = NOTE, "publish"
    copy = copy_slug(send(client, f"/entries/{source.slug}/borrow", form))
    row = borrow_row(store, copy)
    assert (row.source_revision, row.borrowed_revision) == (1, 1)
    assert entry_by_slug(store, copy).current_revision.body == "First version of the text.\n"
    page = page_text(client.get(f"/entries/{copy}"))
    assert "(revision 1)" in _credit(page, source.title)
    assert "The original has changed since you borrowed it" in page


# 9. Bad input ---------------------------------------------------------------------------------

REVISION_NOT_FOUND = "That revision of the original does not exist."
BAD = {
    "empty revision": ({"source_revision": ""}, 409, REVISION_NOT_FOUND),
    "letters": ({"source_revision": "abc"}, 409, REVISION_NOT_FOUND),
    "zero": ({"source_revision": "0"}, 409, REVISION_NOT_FOUND),
    "negative": ({"source_revision": "-1"}, 409, REVISION_NOT_FOUND),
    "huge": ({"source_revision": "999999999999"}, 409, REVISION_NOT_FOUND),
    "future": ({"source_revision": "2"}, 409, REVISION_NOT_FOUND),
    "decimal": ({"source_revision": "1.0"}, 409, REVISION_NOT_FOUND),
    "unknown licence": ({"licence": "GPL-3.0"}, 400, "Choose a licence from the list"),
    "long note": ({"note": "n" * 1001}, 400, "1000 characters"),
    "no title": ({"title": ""}, 400, "Enter a title"),
    "no summary": ({"summary": ""}, 400, "Enter a summary"),
    "no body": ({"body": ""}, 400, "Enter the text of the entry"),
    "no channel": ({"channels": []}, 400, "Choose at least one channel"),
    "unknown channel": ({"channels": ["myspace"]}, 400, "Choose channels from the list"),
    "bad date": ({"review_by": "2027-02-30"}, 400, "Enter a real date"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_gets_a_clear_message_and_saves_nothing(
    catalogue_app, store, lender, borrower, case
):
    changes, status, message = BAD[case]
    source = source_entry(store, lender, title="Visiting hours posts")
    client = borrower.client()
    form = borrow_form(client, source.slug)
    form["action"] = "publish"
    form["note"] = changes.pop("note", NOTE)
    for name, value in changes.items():
        form.setlist(name, value if isinstance(value, list) else [value])
    before = tally(store)
    response = send(client, f"/entries/{source.slug}/borrow", form)
    assert response.status_code == status, response.text[:2000]
    page = page_text(response)
    assert message in page and "<title>Error: " in page
    assert tally(store) == before
    # What they typed is still in the form.
    kept = Page(response.text).form("/borrow")
    assert kept["body"] == form["body"] and kept["note"] == form["note"]


def test_a_missing_source_revision_field_is_refused(catalogue_app, store, lender, borrower):
    source = source_entry(store, lender)
    client = borrower.client()
    form = borrow_form(client, source.slug)
    form.pop("source_revision")
    form["note"], form["action"] = NOTE, "publish"
    before = tally(store)
    response = send(client, f"/entries/{source.slug}/borrow", form)
    assert response.status_code == 409 and REVISION_NOT_FOUND in page_text(response)
    assert tally(store) == before


@pytest.mark.parametrize("digit", ["²", "١", "１", "1\u200b"])
def test_a_unicode_digit_source_revision_is_refused_not_a_server_error(
    catalogue_app, store, lender, borrower, digit
):
    """Regression: '²'.isdigit() is True but int('²') fails, which gave a 500 (fixed in 9230516)."""
    source = source_entry(store, lender)
    client = borrower.client()
    catalogue_app.config["PROPAGATE_EXCEPTIONS"] = False  # see the 500 page, as a browser would
    form = borrow_form(client, source.slug)
    form["source_revision"], form["note"], form["action"] = digit, NOTE, "publish"
    before = tally(store)
    response = send(client, f"/entries/{source.slug}/borrow", form)
    assert response.status_code == 409 and REVISION_NOT_FOUND in page_text(response)
    assert tally(store) == before


def test_preview_shows_the_text_and_saves_nothing(catalogue_app, store, lender, borrower):
    source = source_entry(store, lender)
    before = tally(store)
    response = borrow(borrower.client(), source.slug, action="preview", body="Some **bold** news.")
    assert response.status_code == 200
    assert "<strong>bold</strong>" in response.text
    assert tally(store) == before


# 4. Archiving the original --------------------------------------------------------------------


def test_archiving_the_original_keeps_the_credit_links_and_lineage(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender, title="Outbreak posts in care homes")
    copy = borrowed(borrower.client(), source.slug, body="Our outbreak text.\n")
    assert send(lender.client(), f"/entries/{source.slug}/archive", {}).status_code == 302
    assert entry_by_slug(store, source.slug).status == "archived"
    anonymous = catalogue_app.test_client()
    page = page_text(anonymous.get(f"/entries/{copy}"))
    panel = lineage_panel(page)
    assert "Adapted from Outbreak posts in care homes by Lending Health Board" in panel
    assert "the original has been archived" in panel
    assert LINK.format(source.slug) in _credit(page, "Outbreak posts in care homes")
    assert f'href="/entries/{source.slug}"' in page
    assert anonymous.get(f"/entries/{source.slug}").status_code == 200
    lineage = page_text(anonymous.get(f"/entries/{copy}/lineage"))
    assert f'href="/entries/{source.slug}"' in lineage and "Archived" in lineage
    compare = anonymous.get(f"/entries/{copy}/what-we-changed")
    assert compare.status_code == 200 and "The original has been archived" in page_text(compare)
    # The archived original still lists the copy.
    original = lineage_panel(page_text(anonymous.get(f"/entries/{source.slug}")))
    assert "Borrowed by 1 organisation in 1 sector" in original


# 5. Counts on the original's page -------------------------------------------------------------


def _panel(client, slug: str) -> str:
    return lineage_panel(page_text(client.get(f"/entries/{slug}")))


def test_borrowed_by_counts_distinct_organisations_and_sectors_of_public_copies(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender)
    anonymous = catalogue_app.test_client()
    assert "Borrowed by" not in _panel(anonymous, source.slug)
    police = borrower.client()
    borrowed(police, source.slug, title="First police copy")
    assert "Borrowed by 1 organisation in 1 sector:" in _panel(anonymous, source.slug)
    borrowed(police, source.slug, title="Second police copy")  # same organisation again
    assert "Borrowed by 1 organisation in 1 sector:" in _panel(anonymous, source.slug)
    council = Body(catalogue_app, store, "local-government", "Borrowing Council")
    borrowed(council.client(), source.slug)
    assert "Borrowed by 2 organisations in 2 sectors:" in _panel(anonymous, source.slug)
    other_police = Body(catalogue_app, store, "police", "Second Police Force")
    borrowed(other_police.client(), source.slug)
    assert "Borrowed by 3 organisations in 2 sectors:" in _panel(anonymous, source.slug)
    school = Body(catalogue_app, store, "education", "Borrowing School")
    draft = borrowed(school.client("member"), source.slug, action="draft")
    assert "Borrowed by 3 organisations in 2 sectors:" in _panel(anonymous, source.slug)
    assert "Borrowing School" not in _panel(anonymous, source.slug)
    assert send(school.client(), f"/entries/{draft}/publish", {}).status_code == 302
    panel = _panel(anonymous, source.slug)
    assert "Borrowed by 4 organisations in 3 sectors:" in panel
    for name in ("Borrowing Police Force", "Borrowing Council", "Second Police Force",
                 "Borrowing School"):  # fmt: skip
        assert name in panel


def test_adopting_records_it_once_and_withdrawing_removes_it(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender)
    anonymous = catalogue_app.test_client()
    assert "Used as it is by" not in _panel(anonymous, source.slug)
    member = borrower.client("member")
    assert "We use this as it is" in page_text(member.get(f"/entries/{source.slug}"))
    before = tally(store)
    assert (
        send(member, f"/entries/{source.slug}/adopt", {"note": "Issued as is."}).status_code == 302
    )
    assert tally(store)["adoptions"] == before["adoptions"] + 1
    assert tally(store)["entries"] == before["entries"]  # adopting makes no copy
    assert "Used as it is by: Borrowing Police Force" in _panel(anonymous, source.slug)
    send(borrower.client(), f"/entries/{source.slug}/adopt", {})  # a colleague, again
    assert tally(store)["adoptions"] == before["adoptions"] + 1
    fresh(store)
    [adoption] = store.scalars(select(Adoption).where(Adoption.entry_id == source.id))
    assert (adoption.organisation_id, adoption.revision, adoption.note) == (
        borrower.organisation.id, 1, "Issued as is.",
    )  # fmt: skip
    assert "We no longer use this" in page_text(member.get(f"/entries/{source.slug}"))
    assert send(member, f"/entries/{source.slug}/adopt/withdraw", {}).status_code == 302
    assert tally(store)["adoptions"] == before["adoptions"]
    assert "Used as it is by" not in _panel(anonymous, source.slug)
    assert send(member, f"/entries/{source.slug}/adopt/withdraw", {}).status_code == 404


def test_own_organisation_cannot_adopt_and_drafts_cannot_be_adopted(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender)
    draft = source_entry(store, lender, status="draft")
    archived = source_entry(store, lender, status="archived")
    before = tally(store)
    own = lender.client()
    assert "We use this as it is" not in page_text(own.get(f"/entries/{source.slug}"))
    assert send(own, f"/entries/{source.slug}/adopt", {}).status_code == 403
    assert send(borrower.client(), f"/entries/{draft.slug}/adopt", {}).status_code == 404
    assert send(borrower.client(), f"/entries/{archived.slug}/adopt", {}).status_code == 403
    anonymous = post(catalogue_app.test_client(), f"/entries/{source.slug}/adopt")
    assert anonymous.status_code == 401  # signed out: nothing saved
    assert tally(store) == before


def test_a_note_longer_than_allowed_is_refused_when_adopting(
    catalogue_app, store, lender, borrower
):
    source = source_entry(store, lender)
    before = tally(store)
    response = send(borrower.client(), f"/entries/{source.slug}/adopt", {"note": "x" * 301})
    assert response.status_code == 302
    assert tally(store) == before
