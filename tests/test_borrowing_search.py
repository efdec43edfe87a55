"""Borrowing in search: the "most borrowed" sort, the "borrowed by other sectors" filter, the
reuse count kept up to date without a rebuild, and the ranking lift for reused entries.

Real SQLite file, real Whoosh index on disk, real requests; nothing is mocked.
"""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import text

from kb.search.ranking import REUSE_LIFT, lift
from tests.borrowing_support import (
    Body,
    borrowed,
    borrowed_across_sectors,
    demo_client,
    reuse_by_slug,
    source_entry,
)
from tests.editor_support import Page, entry_by_slug, fresh, send
from tests.search_support import drift, found, index_of

PUBLISHED = text("SELECT slug FROM entries WHERE status = 'published'")


def indexed(app, slug_or_id) -> dict:
    """What the live index stores for one entry."""
    with index_of(app).reading() as snapshot:
        fields = snapshot.searcher.document(id=str(slug_or_id))
    assert fields is not None, slug_or_id
    return fields


def segments(app) -> int:
    with index_of(app).reading() as snapshot:
        return len(snapshot.searcher.reader().leaf_readers())


# 8a. Sort and filter against the database ----------------------------------------------------


def _non_increasing(values: list[int]) -> bool:
    return all(a >= b for a, b in itertools.pairwise(values))


def test_most_borrowed_first_follows_the_database(client, store):
    counts = reuse_by_slug(store)
    listed = found(client, "", sort="most-borrowed")
    fresh(store)
    published = {slug for (slug,) in store.execute(PUBLISHED)}
    assert sorted(listed) == sorted(published)
    assert _non_increasing([counts[slug] for slug in listed]), [(s, counts[s]) for s in listed]
    top = max(counts[slug] for slug in published)
    assert top >= 3 and counts[listed[0]] == top
    reused = [slug for slug in listed if counts[slug]]
    assert listed[: len(reused)] == reused and len(reused) >= 8
    # With words too: the reused matches come first, in order of how often.
    words = found(client, "accessible", sort="most-borrowed")
    assert len(words) > 3 and _non_increasing([counts[slug] for slug in words])
    assert counts[words[0]] >= 1


def test_borrowed_by_other_sectors_lists_exactly_what_the_database_says(client, store):
    expected = borrowed_across_sectors(store)
    assert len(expected) >= 8
    listed = found(client, "", borrowed="other-sectors")
    assert sorted(listed) == sorted(expected)
    # Reused only within its own sector (Millbridge, a council, borrowed it): not listed.
    assert reuse_by_slug(store)["strathbeck-channel-for-the-job-matrix"] == 1
    assert "strathbeck-channel-for-the-job-matrix" not in listed
    # With words: the filter narrows the same results.
    words = set(found(client, "accessible"))
    assert set(found(client, "accessible", borrowed="other-sectors")) == words & expected
    page = client.get("/search", query_string={"borrowed": "other-sectors"}).text
    assert 'id="f-borrowed" name="borrowed" value="other-sectors" checked' in page
    assert "Borrowed by other sectors" in page


def test_an_archived_original_is_listed_only_with_archived_entries(catalogue_app, store):
    slug = "westshire-station-accounts-start-with-yes"  # adopted by a council
    anonymous = catalogue_app.test_client()
    assert slug in found(anonymous, "", borrowed="other-sectors")
    owner = demo_client(catalogue_app, "westshire-fire-rescue")
    assert send(owner, f"/entries/{slug}/archive", {}).status_code == 302
    assert slug not in found(anonymous, "", borrowed="other-sectors")
    with_archived = found(anonymous, "", borrowed="other-sectors", archived="1")
    assert slug in with_archived
    assert sorted(with_archived) == sorted(borrowed_across_sectors(store, archived=True))
    assert drift(catalogue_app).clean


@pytest.mark.parametrize(
    "value", ["1", "yes", "Other-Sectors", " other-sectors", "same-sector", "other-sectors,x"]
)
def test_an_unknown_borrowed_filter_is_not_found(client, value):
    assert client.get("/search", query_string={"borrowed": value}).status_code == 404
    assert client.get("/search", query_string={"q": "posts", "borrowed": value}).status_code == 404


def test_an_unknown_sort_is_not_found(client):
    for sort in ("most_borrowed", "Most-borrowed", "borrowed"):
        assert client.get("/search", query_string={"sort": sort}).status_code == 404


# 8b. The index follows borrowing without a rebuild ---------------------------------------------


def test_a_published_copy_updates_its_sources_count_without_a_rebuild(catalogue_app, store):
    lender = Body(catalogue_app, store, "police", "Ivybridge Police")
    source = source_entry(store, lender, title="Snorkelwort appeals",
                          body="## Context\n\nSnorkelwort appeals for witnesses.\n")  # fmt: skip
    twin = source_entry(store, lender, title="Snorkelwort appeals again",
                        body="## Context\n\nSnorkelwort appeals for witnesses.\n")  # fmt: skip
    anonymous = catalogue_app.test_client()
    folder = index_of(catalogue_app).live_folder()
    assert source.slug not in found(anonymous, "", borrowed="other-sectors")  # catches up
    assert indexed(catalogue_app, source.id)["borrow_count"] == 0

    health = Body(catalogue_app, store, "health", "Juniper Health")
    copy = borrowed(health.client("member"), source.slug, action="draft",
                    title="Clinic appeals", body="Clinic appeals for patients.\n")  # fmt: skip
    assert drift(catalogue_app).clean
    assert indexed(catalogue_app, source.id)["borrow_count"] == 0  # a draft does not count yet
    assert source.slug not in found(anonymous, "", borrowed="other-sectors")

    assert send(health.client(), f"/entries/{copy}/publish", {}).status_code == 302
    assert drift(catalogue_app).clean
    assert indexed(catalogue_app, source.id)["borrow_count"] == 1
    assert source.slug in found(anonymous, "", borrowed="other-sectors")
    assert found(anonymous, "snorkelwort", sort="most-borrowed") == [source.slug, twin.slug]
    assert found(anonymous, "", sort="most-borrowed").index(source.slug) < found(
        anonymous, "", sort="most-borrowed").index(twin.slug)  # fmt: skip

    # Borrowed again, within its own sector: counted, but not "borrowed by other sectors".
    police = Body(catalogue_app, store, "police", "Kestrel Police")
    borrowed(police.client(), twin.slug, title="Our appeals", body="Our appeals.\n")
    assert indexed(catalogue_app, twin.id)["borrow_count"] == 1
    assert twin.slug not in found(anonymous, "", borrowed="other-sectors")
    assert index_of(catalogue_app).live_folder() == folder  # no rebuild happened
    assert drift(catalogue_app).clean


def test_the_index_stays_in_step_through_every_borrowing_write(catalogue_app, store):
    anonymous = catalogue_app.test_client()
    slug = "outpatient-letter-qr-codes-trial"  # Glenharrow's, not reused in the sample
    source = entry_by_slug(store, slug)
    assert reuse_by_slug(store)[slug] == 0
    folder = index_of(catalogue_app).live_folder()
    homes = demo_client(catalogue_app, "tenterfield-homes")
    school = demo_client(catalogue_app, "oakhurst-schools-trust", "member")
    health = demo_client(catalogue_app, "afoncaer-ahp-network")

    def check(count: int, across: bool):
        assert drift(catalogue_app).clean
        assert indexed(catalogue_app, source.id)["borrow_count"] == count
        assert reuse_by_slug(store)[slug] == count
        assert (slug in found(anonymous, "", borrowed="other-sectors")) is across

    copy = borrowed(homes, slug, action="draft")
    check(0, False)
    assert send(homes, f"/entries/{copy}/publish", {}).status_code == 302
    check(1, True)
    assert send(school, f"/entries/{slug}/adopt", {}).status_code == 302
    check(2, True)
    assert send(school, f"/entries/{slug}/adopt", {}).status_code == 302  # again: no change
    check(2, True)
    assert send(health, f"/entries/{slug}/adopt", {}).status_code == 302  # same sector
    check(3, True)
    assert send(school, f"/entries/{slug}/adopt/withdraw", {}).status_code == 302
    check(2, True)
    assert send(homes, f"/entries/{copy}/archive", {}).status_code == 302  # still public
    check(2, True)
    assert send(health, f"/entries/{slug}/adopt/withdraw", {}).status_code == 302
    check(1, True)
    # Editing the copy re-reads the source too; nothing drifts.
    assert send(homes, f"/entries/{copy}/restore", {}).status_code == 302
    check(1, True)
    assert index_of(catalogue_app).live_folder() == folder


# 8c. The ranking lift ---------------------------------------------------------------------------


def test_the_lift_grows_with_reuse_and_is_neutral_without_it():
    assert lift(0) == 1.0
    assert lift(1) == pytest.approx(1 + REUSE_LIFT)
    assert lift(3) == pytest.approx(1 + 2 * REUSE_LIFT)
    lifts = [lift(n) for n in range(0, 30)]
    assert all(a < b for a, b in itertools.pairwise(lifts))
    assert all(value > 1 for value in lifts[1:])
    assert lift(100) < 2.5  # a lift, not a takeover


def test_a_reused_entry_outranks_its_otherwise_identical_twin(catalogue_app, store):
    lender = Body(catalogue_app, store, "housing", "Larkfield Homes")
    text = "## Context\n\nGlimmerdew repairs updates by text message.\n"
    for number in (1, 2):
        source_entry(store, lender, slug=f"glimmerdew-twin-{number}",
                     title="Glimmerdew repairs updates", body=text)  # fmt: skip
    anonymous = catalogue_app.test_client()
    first, second = found(anonymous, "glimmerdew")  # equal scores: some tie order
    taker = Body(catalogue_app, store, "local-government", "Marlow Council")
    borrowed(taker.client(), second, title="Council repairs", body="Council repairs.\n")
    assert found(anonymous, "glimmerdew") == [second, first]
    # Not just "most recently indexed first": re-index the other twin without reusing it.
    owner = lender.client()
    form = Page(owner.get(f"/entries/{first}/edit").text).form("/edit")
    form["review_by"], form["action"] = "2031-01-31", "save"
    assert send(owner, f"/entries/{first}/edit", form).status_code == 302
    assert drift(catalogue_app).clean
    assert found(anonymous, '"glimmerdew repairs"') == [second, first]
    assert found(anonymous, "glimmerdew", sort="most-borrowed") == [second, first]
    # Adopting the other one twice over lifts it past the first.
    for name in ("Nettlebed Trust", "Orchard College"):
        adopter = Body(catalogue_app, store, "education", name)
        assert send(adopter.client(), f"/entries/{first}/adopt", {}).status_code == 302
    assert found(anonymous, "glimmerdew") == [first, second]
    assert drift(catalogue_app).clean


def test_most_borrowed_breaks_ties_by_relevance_on_a_multi_segment_index(catalogue_app, store):
    """Regression: the lifts were cached by document number from the first searcher seen, but
    the most-borrowed sort's tie-break passes each segment's searcher and its own numbers, so
    equally borrowed entries got other documents' lifts (fixed in 9230516)."""
    police = demo_client(catalogue_app, "eastmarch-police")
    borrowed(police, "health-board-channel-for-each-job")
    borrowed(police, "strathbeck-live-gritter-map")
    assert segments(catalogue_app) > 1  # as a live site's index is between merges
    counts = reuse_by_slug(store)
    anonymous = catalogue_app.test_client()
    for words in ("social", "media", "accessible", "warnings", "accounts"):
        relevance = found(anonymous, words)
        most = found(anonymous, words, sort="most-borrowed")
        assert sorted(most) == sorted(relevance)
        for count, group in itertools.groupby(most, key=counts.__getitem__):
            # Equally borrowed entries have equal lifts, so relevance decides between them.
            same = [slug for slug in relevance if counts[slug] == count]
            assert list(group) == same, (words, count)


def test_result_cards_say_how_often_each_entry_was_reused(client, store):
    """Each card on a results page states its public copies plus adoptions, as SQL counts
    them; entries nobody reused say nothing."""
    counts = reuse_by_slug(store)
    page = client.get("/search", query_string={"sort": "most-borrowed"}).text
    cards = re.findall(r'<article class="entry-card">(.*?)</article>', page, re.S)
    assert len(cards) == 20
    for card in cards:
        slug = re.search(r'href="/entries/([^"]+)"', card).group(1)
        said = re.search(r"Borrowed or adopted (once|(\d+) times)", card)
        expected = counts[slug]
        if expected == 0:
            assert said is None, slug
        else:
            assert said is not None and int(said.group(2) or 1) == expected, slug
    assert any(
        counts[s] > 1 for s in re.findall(r'entry-card-title"><a href="/entries/([^"]+)"', page)
    )
