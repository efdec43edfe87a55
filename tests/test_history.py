"""Entry history: the list of revisions, one revision, word-level diffs, compare and revert."""

from __future__ import annotations

import re

import pytest

from kb.entries.diffs import ADDED, REMOVED, SAME, word_diff
from kb.models import Entry
from tests.editor_support import Page, add_user, counts, revisions_of, send
from tests.factories import make_entry, make_organisation
from tests.web import signed_in

SLUG = "history-entry"
BODIES = [
    "The quick brown fox jumps.\n\nSecond line stays.\n",
    "The quick red fox jumps.\n\nSecond line stays.\n\nA new paragraph here.\n",
    "Red fox.\n\nSecond <b>line</b> & <script>x()</script>.\n",
]


def edit(client, slug: str = SLUG, **changes):
    url = f"/entries/{slug}/edit"
    form = Page(client.get(url).text).form(url)
    for name, value in changes.items():
        if isinstance(value, list):
            form.setlist(name, value)
        else:
            form[name] = value
    form["action"] = "save"
    response = send(client, url, form)
    assert response.status_code == 302, response.text[:2000]


@pytest.fixture
def outsider(catalogue_app, store):
    organisation = make_organisation(store, sector="health", name="Other Health Board")
    return add_user(catalogue_app, store, organisation, display_name="Olly Outsider")


@pytest.fixture
def history(catalogue_app, store, org, member, outsider):
    """Revision 1 imported, 2 by a member, 3 by someone from another organisation."""
    entry = make_entry(store, org, slug=SLUG, title="Fox facts", body=BODIES[0])
    entry.open_to_any_member = True
    store.commit()
    edit(
        signed_in(catalogue_app, member),
        body=BODIES[1],
        channels=["x-twitter", "facebook"],
        edit_summary="Colour and a new paragraph",
    )
    edit(signed_in(catalogue_app, outsider), body=BODIES[2], edit_summary="Shortened")
    return entry


def rows(html: str) -> list[str]:
    tbody = html[html.index("<tbody>") : html.index("</tbody>")]
    return tbody.split("<tr>")[1:]


def test_history_lists_revisions_newest_first_with_who_when_why_and_size(client, history):
    response = client.get(f"/entries/{SLUG}/history")
    assert response.status_code == 200
    found = rows(response.text)
    assert [re.search(r"Revision (\d+)</a>", row).group(1) for row in found] == ["3", "2", "1"]
    third, second, first = found
    assert "(current)" in third and "(current)" not in second + first
    assert "Olly Outsider, Other Health Board" in third and "Shortened" in third
    assert "Morgan Member, Testshire Police" in second and "Colour and a new paragraph" in second
    assert "Testshire Police (imported)" in first
    sizes = [len(body) for body in BODIES]
    assert f"+{sizes[0]} " in first and f"+{sizes[1] - sizes[0]} " in second
    assert sizes[2] < sizes[1] and f"−{sizes[1] - sizes[2]} " in third
    assert all(re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">', row) for row in found)


def test_revision_page_shows_that_revision(client, history):
    html = client.get(f"/entries/{SLUG}/revisions/2").text
    assert "You are looking at revision 2" in html
    assert "A new paragraph here." in html and "brown" not in html
    assert 'Saved by Morgan Member: "Colour and a new paragraph"' in html
    assert "<dt>Channels</dt><dd>Facebook, X/Twitter</dd>" in html
    for missing in (0, 4, 99):
        assert client.get(f"/entries/{SLUG}/revisions/{missing}").status_code == 404


def test_diff_marks_words_for_eyes_and_screen_readers(client, history):
    html = client.get(f"/entries/{SLUG}/diff/1/2").text
    assert 'The quick <del><span class="visually-hidden">[removed: </span>brown' in html
    assert '<ins><span class="visually-hidden">[added: </span>red<span' in html
    assert '<h3>Text <span class="diff-counts">(5 words added, 1 removed)</span></h3>' in html
    assert (
        '<tr><th scope="row">Channels</th><td>X/Twitter</td><td>Facebook, X/Twitter</td></tr>'
        in html
    )
    assert "<caption>Details changed</caption>" in html
    assert client.get(f"/entries/{SLUG}/diff/1/9").status_code == 404


def test_diff_shows_html_in_the_text_as_text(client, history):
    html = client.get(f"/entries/{SLUG}/diff/2/3").text
    assert "<script" not in html and "<b>line" not in html
    assert "&lt;b&gt;line&lt;/b&gt;" in html and "&lt;script&gt;x()&lt;/script&gt;" in html


def test_compare_redirects_to_the_diff(client, history):
    response = client.get(f"/entries/{SLUG}/compare?from=3&to=1")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/entries/{SLUG}/diff/1/3"
    assert client.get(f"/entries/{SLUG}/compare?from=2").status_code == 404
    assert client.get(f"/entries/{SLUG}/compare?from=x&to=1").status_code == 404


# kb.entries.diffs.word_diff -------------------------------------------------------------------


def test_word_diff_marks_only_the_changed_word():
    diff = word_diff("the quick brown fox", "the quick red fox")
    assert diff.segments == (
        (SAME, "the quick "),
        (REMOVED, "brown"),
        (ADDED, "red"),
        (SAME, " fox"),
    )
    assert (diff.added, diff.removed, diff.changed) == (1, 1, True)


def test_word_diff_of_unchanged_text_is_one_same_segment():
    text = "One line.\n\nAnother line with <b>tags</b>.\n"
    diff = word_diff(text, text)
    assert diff.segments == ((SAME, text),)
    assert (diff.added, diff.removed, diff.changed) == (0, 0, False)


def test_word_diff_counts_words_not_spaces():
    diff = word_diff("a b", "a b   c\td\n")
    assert (diff.added, diff.removed) == (2, 0)
    assert word_diff("", "two words").added == 2
    assert word_diff("three words gone", "").removed == 3


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("first\nsecond line here\nthird\n", "first\nsecond changed line\nthird\n"),
        ("Keep this.\n", "New start.\nKeep this.\nNew end."),
        ("<b>x</b> & y", "<i>x</i> & y"),
        ("", "only new"),
    ],
)
def test_word_diff_keeps_both_texts_intact(old, new):
    diff = word_diff(old, new)
    assert "".join(text for kind, text in diff.segments if kind != ADDED) == old
    assert "".join(text for kind, text in diff.segments if kind != REMOVED) == new


def test_word_diff_leaves_unchanged_lines_whole_and_html_as_text():
    diff = word_diff("same line\n<p>old</p>\nlast\n", "same line\n<p>new</p>\nlast\n")
    assert diff.segments[0] == (SAME, "same line\n")
    assert (REMOVED, "<p>old</p>") in diff.segments and (ADDED, "<p>new</p>") in diff.segments


# Revert ---------------------------------------------------------------------------------------


def test_revert_writes_a_new_revision_equal_to_the_old_one(catalogue_app, store, member, history):
    before = [(r.number, r.body, r.details) for r in revisions_of(store, history)]
    client = signed_in(catalogue_app, member)
    response = send(client, f"/entries/{SLUG}/revert/1", {"base_revision": "3"})
    assert response.headers["Location"] == f"/entries/{SLUG}/history"
    revisions = revisions_of(store, history)
    assert [(r.number, r.body, r.details) for r in revisions[:3]] == before
    first, reverted = revisions[0], revisions[3]
    assert reverted.number == 4 and reverted.author_id == member.id
    assert (reverted.title, reverted.summary, reverted.body, reverted.details) == (
        first.title,
        first.summary,
        first.body,
        first.details,
    )
    assert reverted.edit_summary == "Reverted to revision 1"
    entry = store.get(Entry, history.id)
    assert entry.current_revision_number == 4
    assert [c.slug for c in entry.channels] == ["x-twitter"]
    assert "Revision 4</a> (current)" in client.get(f"/entries/{SLUG}/history").text


@pytest.mark.parametrize("base", ["2", "1", "", None])
def test_revert_from_a_stale_base_writes_nothing(catalogue_app, store, member, history, base):
    before = counts(store)
    data = {} if base is None else {"base_revision": base}
    response = send(signed_in(catalogue_app, member), f"/entries/{SLUG}/revert/1", data)
    assert response.status_code == 409
    assert "Nothing was reverted" in response.text
    assert counts(store) == before
    assert store.get(Entry, history.id).current_revision_number == 3


def test_revert_to_an_identical_state_writes_nothing(catalogue_app, store, member, history):
    client = signed_in(catalogue_app, member)
    assert send(client, f"/entries/{SLUG}/revert/1", {"base_revision": "3"}).status_code == 302
    before = counts(store)
    for number in (1, 4):
        response = send(client, f"/entries/{SLUG}/revert/{number}", {"base_revision": "4"})
        assert response.status_code == 302
        assert counts(store) == before
    assert "Nothing to revert" in client.get(f"/entries/{SLUG}/history").text


def test_draft_history_is_hidden_from_other_organisations(
    catalogue_app, store, org, member, outsider
):
    make_entry(store, org, slug="secret-draft", status="draft", body="Draft text.")
    store.commit()
    edit(signed_in(catalogue_app, member), slug="secret-draft", body="Draft text, again.")
    pages = ["history", "revisions/1", "revisions/2", "diff/1/2", "compare?from=1&to=2"]
    colleague = signed_in(catalogue_app, member)
    for page, status in zip(pages, [200, 200, 200, 200, 302], strict=True):  # compare: to a diff
        assert colleague.get(f"/entries/secret-draft/{page}").status_code == status, page
    stranger, anonymous = signed_in(catalogue_app, outsider), catalogue_app.test_client()
    for reader in (stranger, anonymous):
        for page in pages:
            assert reader.get(f"/entries/secret-draft/{page}").status_code == 404, page
    before = counts(store)
    response = send(stranger, "/entries/secret-draft/revert/1", {"base_revision": "2"})
    assert response.status_code == 404 and counts(store) == before
