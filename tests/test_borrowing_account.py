"""What waits for an organisation on its members' account page, "Borrow it instead" on the
new-entry form's "similar guidance already exists" warning, permission granted as the asker
sees it, and the sector table's shading."""

from __future__ import annotations

import itertools
import re

from sqlalchemy import select

from kb.models import Entry
from tests.borrowing_support import demo_client, page_text, plain

GLENHARROW = "glenharrow-health-board"  # its copy of the police guidance has a pending update
WESTSHIRE = "westshire-fire-rescue"  # an "ask first" entry of theirs has a pending request


def _waiting(client) -> str:
    response = client.get("/account")
    assert response.status_code == 200
    return plain(page_text(response))


def test_members_see_originals_that_changed_until_they_merge_or_dismiss(catalogue_app):
    editor = demo_client(catalogue_app, GLENHARROW)
    assert "1 original changed since you borrowed it" in _waiting(editor)
    assert "/orgs/glenharrow-health-board/borrowed" in editor.get("/account").text
    dismissed = editor.post(
        "/entries/glenharrow-staff-posting-openly-at-work/upstream/dismiss",
        data={"csrf_token": editor.csrf},
    )
    assert dismissed.status_code == 302
    assert "changed since you borrowed" not in _waiting(editor)


def test_editors_see_requests_waiting_for_an_answer_and_members_do_not(catalogue_app):
    editor = demo_client(catalogue_app, WESTSHIRE)
    assert "Requests to borrow your entries: 1 waiting for an answer" in _waiting(editor)
    member = demo_client(catalogue_app, WESTSHIRE, role="member")
    assert "Requests to borrow your entries" not in _waiting(member)
    asked = editor.get(f"/orgs/{WESTSHIRE}/borrow-requests").text
    grant = asked.split('action="/borrow-requests/')[1].split('"')[0]
    assert (
        editor.post(f"/borrow-requests/{grant}", data={"csrf_token": editor.csrf}).status_code
        == 302
    )
    assert "waiting for an answer" not in _waiting(editor)


def test_the_very_similar_warning_offers_to_borrow_the_existing_entry(catalogue_app, store):
    existing = store.scalar(
        select(Entry).where(Entry.slug == "choosing-neighbourhood-account-holders")
    )
    client = demo_client(catalogue_app, GLENHARROW)
    response = client.post(
        "/entries/new?kind=guidance",
        data={
            "csrf_token": client.csrf,
            "kind": "guidance",
            "title": existing.title,
            "summary": "Ours.",
            "body": "## Purpose\n\nOurs.",
            "channels": ["x-twitter"],
            "licence": "OGL-UK-3.0",
            "action": "draft",
        },
    )
    assert response.status_code == 200, plain(response.text)[:1500]
    assert "Similar guidance already exists" in response.text
    assert f'href="/entries/{existing.slug}/borrow"' in response.text
    assert "Borrow it instead" in response.text
    # Its own organisation is offered no borrowing, only the warning.
    own = demo_client(catalogue_app, "harrowdale-constabulary")
    response = own.post(
        "/entries/new?kind=guidance",
        data={"csrf_token": own.csrf, "kind": "guidance", "title": existing.title,
              "summary": "Ours.", "body": "## Purpose\n\nOurs.", "channels": ["x-twitter"],
              "licence": "OGL-UK-3.0", "action": "draft"},
    )  # fmt: skip
    assert "Similar guidance already exists" in response.text
    assert "Borrow it instead" not in response.text


def test_the_asker_is_told_on_the_entry_once_permission_is_granted(catalogue_app):
    entry = "/entries/westshire-on-call-recruitment-ambassadors"
    asker = demo_client(catalogue_app, "eastmarch-police")
    before = plain(asker.get(entry).text)
    assert "You have asked to borrow this" in before and "permission to adapt" not in before
    owner = demo_client(catalogue_app, WESTSHIRE)
    asked = owner.get(f"/orgs/{WESTSHIRE}/borrow-requests").text
    grant = asked.split('action="/borrow-requests/')[1].split('"')[0]
    assert (
        owner.post(f"/borrow-requests/{grant}", data={"csrf_token": owner.csrf}).status_code == 302
    )
    after = plain(asker.get(entry).text)
    assert "has given Eastmarch Police permission to adapt this" in after
    assert "Borrow this" in after and "You have asked to borrow this" not in after


def test_the_sector_table_shades_each_cell_by_its_count(client):
    """The heat map: empty cells unshaded, the busiest cell darkest, more never lighter; the
    number is always written in the cell too, so colour is never the only signal."""
    page = client.get("/borrowing").text
    cells = [
        (int(shade), re.sub(r"<[^>]+>", " ", body).split()[0])
        for shade, body in re.findall(r'<td class="heat-(\d)[^"]*">(.*?)</td>', page, re.S)
    ]
    assert len(cells) == 8 * 8
    counts = [(shade, int(number)) for shade, number in cells]
    assert all((shade == 0) == (count == 0) for shade, count in counts)
    assert max(counts, key=lambda pair: pair[1])[0] == 4
    ordered = sorted(counts, key=lambda pair: pair[1])
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(ordered))
