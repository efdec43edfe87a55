""" "Related across sectors", stored per entry and worked out again in the background: readers
never wait for the search behind it, never see an entry that is no longer public in it, and a
page without its list is never cached."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from kb.accounts.demo import DEMO_PASSWORD
from kb.entries.related import refresher
from kb.models import Entry, RelatedEntries
from tests.editor_support import Page, fresh, send
from tests.web import signed_in

SLUG = "ward-podcast-nurse-recruitment"
TITLE_LINK = re.compile(r'<a href="/entries/([^"/]+)"')


def related_on(html: str) -> list[str]:
    if 'id="related-heading"' not in html:
        return []
    return TITLE_LINK.findall(html.split('id="related-heading"')[1].split("</section>")[0])


@pytest.fixture
def background(catalogue_app):
    catalogue_app.config["RELATED_IN_BACKGROUND"] = True
    return refresher(catalogue_app)


@pytest.fixture
def editor_of_sample(store) -> str:
    """The demo editor of the organisation that wrote ``SLUG``."""
    entry = store.scalar(select(Entry).where(Entry.slug == SLUG))
    return f"editor@{entry.organisation.slug}.example"


def stored(store, slug: str) -> RelatedEntries | None:
    fresh(store)
    entry_id = store.scalar(select(Entry.id).where(Entry.slug == slug))
    return store.get(RelatedEntries, entry_id)


def test_a_first_view_does_not_wait_and_is_not_cached_without_its_list(
    catalogue_app, store, background
):
    client = catalogue_app.test_client()
    first = client.get(f"/entries/{SLUG}")
    assert first.status_code == 200 and related_on(first.text) == []
    assert "ETag" not in first.headers and first.headers["Cache-Control"] == "no-cache"
    background.wait()
    assert stored(store, SLUG) is not None
    second = client.get(f"/entries/{SLUG}")
    assert 1 <= len(related_on(second.text)) <= 5
    assert "ETag" in second.headers  # whole now, so cached
    assert client.get(f"/entries/{SLUG}").data == second.data


def test_a_stale_list_is_shown_while_the_new_one_is_worked_out(
    catalogue_app, store, background, editor_of_sample
):
    client = catalogue_app.test_client()
    client.get(f"/entries/{SLUG}")
    background.wait()
    before = stored(store, SLUG).computed_through
    shown = related_on(client.get(f"/entries/{SLUG}").text)

    editing = signed_in(catalogue_app, editor_of_sample, DEMO_PASSWORD)
    form = Page(editing.get(f"/entries/{SLUG}/edit").text).form("/edit")
    form["summary"], form["action"] = "Recruiting nurses through a ward podcast.", "save"
    assert send(editing, f"/entries/{SLUG}/edit", form).status_code == 302

    assert related_on(client.get(f"/entries/{SLUG}").text) == shown  # the stale list, at once
    background.wait()
    assert stored(store, SLUG).computed_through > before


def test_an_entry_no_longer_public_leaves_every_stored_list(catalogue_app, store, background):
    client = catalogue_app.test_client()
    client.get(f"/entries/{SLUG}")
    background.wait()
    gone = related_on(client.get(f"/entries/{SLUG}").text)[0]
    fresh(store)
    store.scalar(select(Entry).where(Entry.slug == gone)).status = "draft"
    store.commit()
    assert gone not in related_on(client.get(f"/entries/{SLUG}").text)


def test_many_readers_at_once_work_each_list_out_once(catalogue_app, store, background):
    fresh(store)
    slugs = store.scalars(select(Entry.slug).where(Entry.status == "published")).all()
    worked_out: list[int] = []
    original = background._refresh

    def counting(entry_id: int) -> None:
        worked_out.append(entry_id)
        original(entry_id)

    background._refresh = counting
    problems: list[tuple[str, int]] = []

    def read(offset: int) -> None:
        client = catalogue_app.test_client()
        for slug in slugs[offset:] + slugs[:offset]:
            status = client.get(f"/entries/{slug}").status_code
            if status != 200:
                problems.append((slug, status))

    readers = [threading.Thread(target=read, args=(n * 7,)) for n in range(6)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(timeout=120)
    background.wait()
    assert problems == []
    assert len(worked_out) == len(set(worked_out))  # none twice
    assert all(stored(store, slug) is not None for slug in slugs)
