"""Each page type loads in a fixed, small number of queries, however many entries it shows.

Counted with the shared page cache off (a signed-in reader's view, or any cache miss), for an
anonymous reader and a member, before and after the catalogue grows by a dozen entries on the
same sector, channel, topic and organisation, with borrows, adoptions and revisions: a page
whose count grows with what it lists has gone N+1.
"""

from __future__ import annotations

import pytest

from kb.models import Adoption
from kb.search import get_index
from tests.factories import make_entry, make_organisation
from tests.test_page_caching import statements
from tests.web import signed_in

# Each page's budget for an anonymous reader: what it needs today, with a little room. A
# signed-in member's pages also load the person, their session and their notifications.
PAGES = {
    "home": ("/", 12),
    "sector listing": ("/sectors/police", 15),
    "channel listing": ("/channels/x-twitter", 14),
    "topic listing": ("/topics/community-engagement", 14),
    "organisations": ("/orgs", 4),
    "organisation": ("/orgs/{org}", 15),
    "entry page": ("/entries/{entry}", 13),
    "entry history": ("/entries/{entry}/history", 8),
    "search": ("/search?q=test+entry", 6),
    "borrowing": ("/borrowing", 8),
    "sector feed": ("/feeds/sectors/police.atom", 18),
    "recent feed": ("/feeds/recent.atom", 9),
    "search feed": ("/search.atom?q=test+entry", 12),
}
SIGNED_IN = 4


@pytest.fixture
def grow(catalogue_app, store, org):
    catalogue_app.config["PAGE_CACHE"] = False
    first = make_entry(store, org, slug="counted", relevant=("health",))
    store.commit()

    def more(n: int) -> None:
        for _ in range(n):
            entry = make_entry(
                store,
                org,
                channels=("x-twitter", "facebook"),
                topics=("community-engagement",),
                relevant=("fire-and-rescue",),
            )
            store.flush()
            adopter = make_organisation(store, sector="health")
            store.add(Adoption(entry_id=first.id, organisation=adopter, revision=1, note="Ours."))
            store.flush()
            entry.summary = "Revised."
        store.commit()
        with catalogue_app.app_context():  # as the request that saved would
            get_index().catch_up()

    return more


def count(app, client, path: str) -> int:
    assert client.get(path).status_code == 200, path  # warm: related entries worked out
    with statements(app) as seen:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(seen)


@pytest.mark.parametrize("reader", ["anonymous", "member"])
@pytest.mark.parametrize("page", PAGES)
def test_a_page_loads_in_the_same_few_queries_however_much_it_lists(
    catalogue_app, store, org, member, grow, page, reader
):
    path, budget = PAGES[page]
    path = path.format(org=org.slug, entry="counted")
    client = (
        catalogue_app.test_client() if reader == "anonymous" else signed_in(catalogue_app, member)
    )
    grow(1)  # one of everything the page lists, so the first count includes each kind
    small = count(catalogue_app, client, path)
    grow(12)
    large = count(catalogue_app, client, path)
    assert large == small, f"{page}: {small} queries, then {large} with 12 more entries"
    budget += SIGNED_IN if reader == "member" else 0
    assert large <= budget, f"{page}: {large} queries (budget {budget})"
