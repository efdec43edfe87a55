"""Lineage: credit across generations, the family tree, what a copy changed, the sector ×
sector picture at /borrowing, and the sample catalogue's reuse.

Real SQLite file, real search index, real requests with CSRF; nothing is mocked.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from kb.borrowing.upstream import has_update
from kb.db import db
from kb.models import Adoption, Borrow, BorrowRequest, Entry, Revision, Sector
from kb.seeding import load_catalogue
from tests.borrowing_support import (
    Body,
    attribution,
    borrow_row,
    borrowed,
    demo_client,
    family_texts,
    family_tree,
    lineage_panel,
    page_text,
    plain,
    sector_grid,
    source_entry,
)
from tests.conftest import SEED_DIR
from tests.editor_support import Page, entry_by_slug, fresh, send

# The sample catalogue's second-generation copy, its source, and the original.
SEED_ORIGINAL = "cairnloch-wildfire-flood-warnings-three-channels"
SEED_MIDDLE = "strathbeck-flood-and-storm-warnings-three-channels"
SEED_GRANDCHILD = "oakhurst-severe-weather-closure-warnings-three-channels"


def _get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return page_text(response)


# 2. Two generations ---------------------------------------------------------------------------


@pytest.fixture
def generations(catalogue_app, store):
    """A (fire and rescue) → B (housing) → C (third sector), each published."""
    fire = Body(catalogue_app, store, "fire-and-rescue", "Ashvale Fire and Rescue")
    homes = Body(catalogue_app, store, "housing", "Brookmere Homes")
    charity = Body(catalogue_app, store, "third-sector", "Cindervale Carers")
    a = source_entry(store, fire, title="Grass fire warnings for farmers",
                     body="## Purpose\n\nWarn farmers before a grass fire spreads.\n")  # fmt: skip
    b = borrowed(homes.client(), a.slug, title="Bonfire warnings for estates",
                 body="## Purpose\n\nWarn tenants before a bonfire spreads.\n",
                 note="Farmers became tenants.")  # fmt: skip
    c = borrowed(charity.client(), b, title="Bonfire warnings for carers",
                 body="## Purpose\n\nWarn carers before a bonfire spreads.\n",
                 note="Tenants became carers.", licence="CC-BY-4.0")  # fmt: skip
    return {"a": a.slug, "b": b, "c": c, "fire": fire, "homes": homes, "charity": charity}


def test_a_second_generation_copy_credits_both_ancestors(catalogue_app, generations):
    g = generations
    page = _get(catalogue_app.test_client(), f"/entries/{g['c']}")
    panel = lineage_panel(page)
    assert (
        "Adapted from Bonfire warnings for estates by Brookmere Homes (Housing), revision 1, "
        "Open Government Licence v3.0." in panel
    ), panel
    assert (
        "That was itself adapted from Grass fire warnings for farmers by Ashvale Fire and "
        "Rescue (Fire and rescue), revision 1, Open Government Licence v3.0." in panel
    ), panel
    assert "What Cindervale Carers changed and why: Tenants became carers." in panel
    assert panel.index("Bonfire warnings for estates") < panel.index("Grass fire warnings")
    credits = attribution(page)[1:]
    assert len(credits) == 2
    assert "“Bonfire warnings for estates” (revision 1) by Brookmere Homes" in credits[0]
    assert f"http://localhost/entries/{g['b']}" in credits[0]
    assert "“Grass fire warnings for farmers” (revision 1) by Ashvale Fire and Rescue" in credits[1]
    assert f"http://localhost/entries/{g['a']}" in credits[1]
    assert f'href="/entries/{g["a"]}"' in page and f'href="/entries/{g["b"]}"' in page


def test_every_member_of_the_family_shows_the_whole_tree(catalogue_app, store, generations):
    g = generations
    # A sibling of B, and a draft copy of B that only its own organisation sees.
    sibling_org = Body(catalogue_app, store, "education", "Dunmore Academy")
    d = borrowed(sibling_org.client(), g["a"], title="Grass fire warnings for schools")
    draft_org = Body(catalogue_app, store, "health", "Eastfold Health")
    e = borrowed(draft_org.client("member"), g["b"], action="draft", title="Draft bonfire copy")
    whole = [(g["a"], [(g["b"], [(g["c"], [])]), (d, [])])]
    anonymous = catalogue_app.test_client()
    for slug in (g["a"], g["b"], g["c"], d):
        page = _get(anonymous, f"/entries/{slug}/lineage")
        assert family_tree(page) == whole, slug
        assert "4 entries in this family." in page
        assert f'href="/entries/{slug}" aria-current="page"' in page
    texts = family_texts(_get(anonymous, f"/entries/{g['c']}/lineage"))
    assert "Ashvale Fire and Rescue (Fire and rescue), the original" in texts[g["a"]]
    assert (
        "Brookmere Homes (Housing), adapted from revision 1 under the Open Government"
        in (texts[g["b"]])
    )
    assert "Cindervale Carers (Third sector), adapted from revision 1" in texts[g["c"]]
    assert "Tenants became carers." in texts[g["c"]]
    # The draft copy appears only for the organisation that wrote it.
    with_draft = [(g["a"], [(g["b"], [(g["c"], []), (e, [])]), (d, [])])]
    own = draft_org.client("member")
    assert family_tree(_get(own, f"/entries/{g['a']}/lineage")) == with_draft
    assert family_tree(_get(own, f"/entries/{e}/lineage")) == with_draft
    assert anonymous.get(f"/entries/{e}/lineage").status_code == 404


def test_adoptions_show_in_the_family_tree(catalogue_app, store, generations):
    g = generations
    adopter = Body(catalogue_app, store, "central-government", "Fenwick Office")
    assert send(adopter.client(), f"/entries/{g['b']}/adopt", {}).status_code == 302
    texts = family_texts(_get(catalogue_app.test_client(), f"/entries/{g['a']}/lineage"))
    assert "Used as it is by Fenwick Office" in texts[g["b"]]
    assert "Used as it is by" not in texts[g["a"]] + texts[g["c"]]


def test_an_entry_nobody_borrowed_is_a_family_of_one(catalogue_app, store):
    page = _get(catalogue_app.test_client(), "/entries/strathbeck-live-gritter-map/lineage")
    assert family_tree(page) == [("strathbeck-live-gritter-map", [])]
    assert "1 entry in this family." in page
    assert catalogue_app.test_client().get("/entries/no-such-entry/lineage").status_code == 404


def test_the_sample_second_generation_copy(client, store):
    """The seed's oakhurst ← strathbeck ← cairnloch chain, read through the pages."""
    fresh(store)
    assert borrow_row(store, SEED_GRANDCHILD).source.slug == SEED_MIDDLE
    assert borrow_row(store, SEED_MIDDLE).source.slug == SEED_ORIGINAL
    page = _get(client, f"/entries/{SEED_GRANDCHILD}")
    panel = lineage_panel(page)
    middle, original = entry_by_slug(store, SEED_MIDDLE), entry_by_slug(store, SEED_ORIGINAL)
    first = f"Adapted from {middle.title} by Strathbeck Council (Local government), revision 1"
    second = (
        f"That was itself adapted from {original.title} by Cairnloch Fire and Rescue Service "
        "(Fire and rescue), revision 1"
    )
    assert first in panel, panel
    assert second.split(" Service")[0] in panel, panel
    assert "Cairnloch" in panel and panel.index("Strathbeck") < panel.index("Cairnloch")
    tree = [(SEED_ORIGINAL, [(SEED_MIDDLE, [(SEED_GRANDCHILD, [])])])]
    for slug in (SEED_ORIGINAL, SEED_MIDDLE, SEED_GRANDCHILD):
        assert family_tree(_get(client, f"/entries/{slug}/lineage")) == tree, slug


# 3. What a copy changed -----------------------------------------------------------------------

INS = re.compile(r'<ins><span class="visually-hidden">\[added: </span>(.*?)<span', re.S)
DEL = re.compile(r'<del><span class="visually-hidden">\[removed: </span>(.*?)<span', re.S)


def test_compare_shows_the_borrowed_revision_against_the_copy_as_a_diff(
    catalogue_app, store, generations
):
    g = generations
    anonymous = catalogue_app.test_client()
    page = _get(anonymous, f"/entries/{g['b']}/what-we-changed")
    added, removed = " ".join(INS.findall(page)), " ".join(DEL.findall(page))
    assert "tenants" in added and "farmers" in removed
    assert "Bonfire" in added and "Grass fire" in removed
    assert "Their note: Farmers became tenants." in plain(page)
    assert "revision 1 of Grass fire warnings for farmers by Ashvale Fire and Rescue" in plain(page)
    # The copy moves on; the original moves on: the comparison is always the copy as it is now
    # against the revision it is based on.
    owner = g["fire"].client()
    data = Page(owner.get(f"/entries/{g['a']}/edit").text).form("/edit")
    data["body"], data["action"] = "## Purpose\n\nWarn zebrafolk before a fire.\n", "save"
    assert send(owner, f"/entries/{g['a']}/edit", data).status_code == 302
    homes = g["homes"].client()
    data = Page(homes.get(f"/entries/{g['b']}/edit").text).form("/edit")
    data["body"], data["action"] = "## Purpose\n\nWarn residents quokkawise.\n", "save"
    assert send(homes, f"/entries/{g['b']}/edit", data).status_code == 302
    page = _get(anonymous, f"/entries/{g['b']}/what-we-changed")
    added, removed = " ".join(INS.findall(page)), " ".join(DEL.findall(page))
    assert "quokkawise" in added and "farmers" in removed
    assert "zebrafolk" not in page  # the original's later text is not the base


def test_compare_shows_a_licence_the_copy_changed(catalogue_app, generations):
    page = _get(catalogue_app.test_client(), f"/entries/{generations['c']}/what-we-changed")
    details = re.search(r'<table class="details-diff">.*?</table>', page, re.S)
    assert details and "Licence" in details.group(0)
    assert "Creative Commons Attribution 4.0" in details.group(0)


def test_compare_is_only_for_copies(catalogue_app, store, generations):
    anonymous = catalogue_app.test_client()
    assert anonymous.get(f"/entries/{generations['a']}/what-we-changed").status_code == 404
    assert anonymous.get("/entries/strathbeck-live-gritter-map/what-we-changed").status_code == 404
    assert anonymous.get("/entries/no-such-entry/what-we-changed").status_code == 404
    assert anonymous.get(f"/entries/{SEED_MIDDLE}/what-we-changed").status_code == 200
    draft_org = Body(catalogue_app, store, "health", "Eastfold Health")
    draft = borrowed(draft_org.client("member"), generations["b"], action="draft")
    assert anonymous.get(f"/entries/{draft}/what-we-changed").status_code == 404
    assert draft_org.client("member").get(f"/entries/{draft}/what-we-changed").status_code == 200


def test_an_unchanged_copy_says_so(catalogue_app, store):
    lender = Body(catalogue_app, store, "police", "Gorsedale Police")
    taker = Body(catalogue_app, store, "housing", "Hollins Homes")
    source = source_entry(store, lender)
    copy = borrowed(taker.client(), source.slug)
    page = _get(catalogue_app.test_client(), f"/entries/{copy}/what-we-changed")
    assert "No differences." in page and not INS.findall(page) and not DEL.findall(page)


# 6. The sector × sector table -----------------------------------------------------------------

EXPECTED_CELLS = text(
    """
    SELECT lender, borrower, sum(borrows), sum(adoptions) FROM (
        SELECT s.origin_sector_id AS lender, c.origin_sector_id AS borrower,
               1 AS borrows, 0 AS adoptions
          FROM borrows b
          JOIN entries s ON s.id = b.source_id
          JOIN entries c ON c.id = b.entry_id
         WHERE c.status IN ('published', 'archived')
        UNION ALL
        SELECT e.origin_sector_id, o.sector_id, 0, 1
          FROM adoptions a
          JOIN entries e ON e.id = a.entry_id
          JOIN organisations o ON o.id = a.organisation_id
    ) AS cells GROUP BY lender, borrower
    """
)


def _expected_grid(store) -> tuple[list[str], dict[tuple[str, str], tuple[int, int]]]:
    fresh(store)
    sectors = list(store.scalars(select(Sector).order_by(Sector.position)))
    names = {sector.id: sector.name for sector in sectors}
    cells = {
        (names[lender], names[borrower]): (borrows, adoptions)
        for lender, borrower, borrows, adoptions in store.execute(EXPECTED_CELLS)
    }
    return [sector.name for sector in sectors], cells


def _cell_value(cell: str) -> tuple[int, int, int]:
    """(total, borrowed, adopted) from a cell's words."""
    if cell == "0":
        return 0, 0, 0
    match = re.fullmatch(r"(\d+) \((\d+) borrowed, (\d+) adopted\)", cell)
    assert match, cell
    return tuple(int(n) for n in match.groups())


def _check_table(client, store) -> int:
    """Compare every cell and total of /borrowing with SQL; return the grand total."""
    page = _get(client, "/borrowing")
    table = sector_grid(page)
    names, cells = _expected_grid(store)
    assert table.caption.strip().startswith("Borrows and adoptions by lending sector (rows)")
    header, *body, footer = table.rows
    assert [(kind, scope) for kind, scope, _ in header] == [("th", "col")] * (len(names) + 2)
    assert [words for _, _, words in header[1:-1]] == names
    assert header[-1][2] == "Total lent"
    assert [row[0][2] for row in body] == names  # one row per lending sector, in order
    grand = 0
    for lender, row in zip(names, body, strict=True):
        assert row[0][:2] == ("th", "row")
        assert len(row) == len(names) + 2
        for borrower, (kind, _scope, words) in zip(names, row[1:-1], strict=True):
            borrows, adoptions = cells.get((lender, borrower), (0, 0))
            assert kind == "td"
            assert _cell_value(words) == (borrows + adoptions, borrows, adoptions), (
                lender, borrower, words,
            )  # fmt: skip
        lent = sum(sum(cells.get((lender, b), (0, 0))) for b in names)
        assert int(row[-1][2]) == lent, lender
        grand += lent
    assert footer[0] == ("th", "row", "Total borrowed")
    for borrower, (_, _, words) in zip(names, footer[1:-1], strict=True):
        assert int(words) == sum(sum(cells.get((lender, borrower), (0, 0))) for lender in names)
    assert int(footer[-1][2]) == grand
    assert f"{grand} in all." in page
    return grand


def test_the_sector_table_matches_the_database_for_the_sample_catalogue(client, store):
    grand = _check_table(client, store)
    fresh(store)
    assert grand == store.scalar(select(func.count(Borrow.id))) + store.scalar(
        select(func.count(Adoption.id))
    )


def test_the_sector_table_follows_new_copies_drafts_archiving_and_adoptions(catalogue_app, store):
    anonymous = catalogue_app.test_client()
    before = _check_table(anonymous, store)
    police = demo_client(catalogue_app, "eastmarch-police")
    homes = demo_client(catalogue_app, "tenterfield-homes", "member")
    # A published copy (health → police), a draft copy (not counted), an adoption.
    borrowed(police, "health-board-channel-for-each-job")
    draft = borrowed(homes, "health-board-channel-for-each-job", action="draft")
    assert send(homes, "/entries/outpatient-letter-qr-codes-trial/adopt", {}).status_code == 302
    assert _check_table(anonymous, store) == before + 2
    # Publishing the draft counts it; archiving a copy keeps it counted.
    editor = demo_client(catalogue_app, "tenterfield-homes")
    assert send(editor, f"/entries/{draft}/publish", {}).status_code == 302
    assert _check_table(anonymous, store) == before + 3
    assert send(editor, f"/entries/{draft}/archive", {}).status_code == 302
    assert _check_table(anonymous, store) == before + 3
    # Withdrawing the adoption takes it away again.
    assert (
        send(homes, "/entries/outpatient-letter-qr-codes-trial/adopt/withdraw", {}).status_code
        == 302
    )
    assert _check_table(anonymous, store) == before + 2


def test_the_sector_table_on_a_site_with_nothing_borrowed(app):
    page = _get(app.test_client(), "/borrowing")
    table = sector_grid(page)
    cells = [words for row in table.rows[1:] for kind, _scope, words in row if kind == "td"]
    assert cells and set(cells) == {"0"}
    assert "0 in all." in page and "Nothing has been borrowed yet." in page


def test_the_most_borrowed_list_on_the_overview(client, store):
    page = _get(client, "/borrowing")
    listed = re.search(r'<ol class="most-borrowed">(.*?)</ol>', page, re.S)
    assert listed
    slugs = re.findall(r'<li><a href="/entries/([^"]+)"', listed.group(1))
    fresh(store)
    counts = dict(
        store.execute(
            text(
                """
                SELECT e.slug,
                  (SELECT count(*) FROM borrows b JOIN entries c ON c.id = b.entry_id
                    WHERE b.source_id = e.id AND c.status IN ('published', 'archived'))
                + (SELECT count(*) FROM adoptions a WHERE a.entry_id = e.id)
                FROM entries e WHERE e.status IN ('published', 'archived')
                """
            )
        ).all()
    )
    reused = sorted((n for n in counts.values() if n), reverse=True)
    assert [counts[slug] for slug in slugs] == reused[: len(slugs)]
    assert slugs[0] == "strathbeck-accessible-posts-checklist"  # two copies and an adoption


# 7. The sample catalogue's reuse --------------------------------------------------------------


def test_the_sample_catalogue_has_cross_sector_reuse_of_every_kind(session):
    borrows = session.scalars(select(Borrow)).all()
    adoptions = session.scalars(select(Adoption)).all()
    assert len(borrows) >= 8 and len(adoptions) >= 3
    across = [b for b in borrows if b.entry.origin_sector_id != b.source.origin_sector_id]
    assert len(across) >= 6
    assert len({(b.source.origin_sector_id, b.entry.origin_sector_id) for b in across}) >= 5
    assert all(a.organisation.sector_id != a.entry.origin_sector_id for a in adoptions)
    copies = {b.entry_id for b in borrows}
    assert any(b.source_id in copies for b in borrows)  # a copy of a copy
    for row in borrows:
        assert row.entry.organisation_id != row.source.organisation_id
        assert row.note.strip() and row.licence == row.source.licence
        assert 1 <= row.source_revision <= row.source.current_revision_number
        assert row.entry.created_at > row.source.created_at
    pending = [b for b in borrows if has_update(b)]
    assert "glenharrow-staff-posting-openly-at-work" in {b.entry.slug for b in pending}
    requests = session.scalars(select(BorrowRequest)).all()
    assert requests and all(r.entry.licence == "ask-first" and r.is_pending for r in requests)


def test_the_sample_copy_with_a_pending_update_says_so_to_its_owners_only(catalogue_app, store):
    slug = "glenharrow-staff-posting-openly-at-work"
    row = borrow_row(store, slug)
    assert row.source.slug == "officers-and-staff-posting-openly-on-duty"
    assert row.source_revision < row.source.current_revision_number
    notice = "The original has changed since you borrowed it"
    for role in ("member", "editor"):
        page = _get(demo_client(catalogue_app, "glenharrow-health-board", role), f"/entries/{slug}")
        assert notice in page and "Merge these changes" in page
    assert notice not in _get(catalogue_app.test_client(), f"/entries/{slug}")
    assert notice not in _get(demo_client(catalogue_app, "eastmarch-police"), f"/entries/{slug}")


def _reuse_state(session) -> tuple:
    def rows(query):
        return sorted(tuple(row) for row in session.execute(query).all())

    return (
        rows(select(Entry.slug, Entry.status, Entry.current_revision_number)),
        rows(
            select(
                Borrow.entry_id,
                Borrow.source_id,
                Borrow.source_revision,
                Borrow.borrowed_revision,
                Borrow.licence,
                Borrow.note,
            )
        ),  # fmt: skip
        rows(
            select(Adoption.entry_id, Adoption.organisation_id, Adoption.revision, Adoption.note)
        ),  # fmt: skip
        rows(
            select(
                BorrowRequest.entry_id,
                BorrowRequest.organisation_id,
                BorrowRequest.status,
                BorrowRequest.message,
            )
        ),  # fmt: skip
        rows(select(Revision.entry_id, Revision.number, Revision.body)),
    )


ADDED = ("entries", "adoptions", "revisions", "requests")


def test_loading_the_sample_catalogue_again_changes_nothing(catalogue_app):
    with catalogue_app.app_context():
        before = _reuse_state(db.session)
        report = load_catalogue(db.session, SEED_DIR)
        db.session.commit()
        added = {what: report.created.get(what, 0) for what in ADDED}
        assert added == dict.fromkeys(ADDED, 0)
        assert report.unchanged.get("adoptions") == len(before[2])
        db.session.expire_all()
        assert _reuse_state(db.session) == before


def test_loading_the_sample_catalogue_on_an_empty_site_twice(app):
    with app.app_context():
        first = load_catalogue(db.session, SEED_DIR)
        db.session.commit()
        assert first.created.get("adoptions", 0) >= 3 and first.created.get("revisions", 0) >= 1
        loaded = _reuse_state(db.session)
        assert len(loaded[1]) >= 8
        load_catalogue(db.session, SEED_DIR)
        db.session.commit()
        db.session.expire_all()
        assert _reuse_state(db.session) == loaded
