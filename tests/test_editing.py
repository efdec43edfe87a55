"""Writing entries through the editor: new, preview, validation, drafts, edits, status, slugs."""

from __future__ import annotations

import re
from datetime import date

import pytest

from kb.rendering import render_markdown
from tests.editor_support import (
    Page,
    add_user,
    counts,
    entry_by_slug,
    entry_data,
    revisions_of,
    send,
    slug_from,
)
from tests.factories import make_entry, make_organisation
from tests.web import signed_in

# New entries ----------------------------------------------------------------------------------

NEW = "/entries/new?kind=guidance"
CASE_STUDY_HEADINGS = ["Context", "What we did", "Results", "Evidence", "Lessons", "Resources"]
GUIDANCE_HEADINGS = ["Purpose", "Scope", "The guidance", "Do and don't", "Review"]


def test_new_without_kind_offers_the_two_kinds(catalogue_app, member):
    html = signed_in(catalogue_app, member).get("/entries/new").text
    assert "What are you adding?" in html and 'name="body"' not in html
    assert 'href="/entries/new?kind=case_study"' in html
    assert 'href="/entries/new?kind=guidance"' in html


@pytest.mark.parametrize(
    ("kind", "headings"), [("case_study", CASE_STUDY_HEADINGS), ("guidance", GUIDANCE_HEADINGS)]
)
def test_new_form_prefills_the_kinds_headings(catalogue_app, member, kind, headings):
    response = signed_in(catalogue_app, member).get(f"/entries/new?kind={kind}")
    body = Page(response.text).form("/entries/new")["body"]
    assert re.findall(r"^## (.+)$", body, flags=re.MULTILINE) == headings


def test_preview_renders_markdown_and_saves_nothing(catalogue_app, store, member):
    client = signed_in(catalogue_app, member)
    before = counts(store)
    body = "## Our plan\n\nSome **bold** text & a [link](https://example.org).\n\n- one\n- two\n"
    response = send(client, NEW, entry_data(body=body, action="preview"))
    html = response.text
    assert response.status_code == 200
    assert str(render_markdown(body)) in html
    assert '<h2 id="section-our-plan">Our plan</h2>' in html and "<strong>bold</strong>" in html
    assert Page(html).form("/entries/new")["body"] == body
    assert counts(store) == before


def test_preview_of_an_edit_saves_nothing(catalogue_app, store, org, member):
    make_entry(store, org, slug="previewed", body="Old text.")
    store.commit()
    client = signed_in(catalogue_app, member)
    data = Page(client.get("/entries/previewed/edit").text).form("/edit")
    data["body"], data["action"] = "New *text*.", "preview"
    before = counts(store)
    html = send(client, "/entries/previewed/edit", data).text
    assert "<p>New <em>text</em>.</p>" in html
    assert counts(store) == before
    assert entry_by_slug(store, "previewed").current_revision.body == "Old text."


# Validation -----------------------------------------------------------------------------------

INVALID = {
    "empty title": ({"title": "  "}, "title", "Enter a title"),
    "empty summary": ({"summary": ""}, "summary", "Enter a summary"),
    "empty body": ({"body": ""}, "body", "Enter the text of the entry"),
    "no channel": ({"channels": []}, "channels", "Choose at least one channel"),
    "unknown channel": ({"channels": ["sms-text", "myspace"]}, "channels", "Choose channels"),
    "bad licence": ({"licence": "GPL-3.0"}, "licence", "Choose a licence from the list"),
    "bad date": ({"review_by": "2027-02-30"}, "review_by", "Enter a real date, for example"),
    "long summary": ({"summary": "x" * 301}, "summary", "300 characters"),
}


def _error_summary_targets(html: str) -> list[tuple[str, str]]:
    summary = re.search(r'<div class="error-summary".*?</div>', html, flags=re.DOTALL)
    assert summary, "no error summary"
    return re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary.group(0))


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_entry_is_refused_with_everything_kept(catalogue_app, store, member, case):
    changes, field, message = INVALID[case]
    sent = entry_data(title="Keep my title & <b>", body="Keep\n\nmy *body* ✓\n")
    sent |= {"review_by": "2027-03-31", "topics": ["evaluation", "accessibility"]}
    sent |= {"relevant_sectors": ["health"], "edit_summary": "first go", **changes}
    client = signed_in(catalogue_app, member)
    before = counts(store)
    response = send(client, NEW, sent)
    html = response.text
    assert response.status_code == 400
    assert counts(store) == before
    assert "<title>Error: " in html
    page = Page(html)
    targets = _error_summary_targets(html)
    assert html.index('class="error-summary"') < html.index('class="entry-form"')
    assert targets and all(page.ids.get(t) in {"input", "textarea"} for t, _ in targets), targets
    assert any(message in text for _, text in targets), targets
    beside = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.DOTALL)
    assert beside and message in beside.group(1)
    kept = page.form("/entries/new")
    for name in ("title", "summary", "body", "review_by", "edit_summary"):
        assert kept[name] == sent[name], name
    known = {"sms-text"} if case == "unknown channel" else set(sent["channels"])
    assert set(kept.getlist("channels")) == known
    assert set(kept.getlist("topics")) == {"evaluation", "accessibility"}
    assert kept.getlist("relevant_sectors") == ["health"]
    assert kept.get("licence") == (None if case == "bad licence" else "OGL-UK-3.0")


def test_every_error_at_once_is_listed_and_linked(catalogue_app, store, member):
    sent = entry_data(title="", summary="", body="", channels=[], licence="", review_by="soon")
    html = send(signed_in(catalogue_app, member), NEW, sent).text
    targets = dict(_error_summary_targets(html))
    assert set(targets) == {"title", "summary", "body", "channels-0", "licence-0", "review_by"}
    page = Page(html)
    assert all(page.ids.get(target) in {"input", "textarea"} for target in targets)
    assert page.form("/entries/new")["review_by"] == "soon"


# Drafts, publishing and who may do it ---------------------------------------------------------


def test_member_saves_a_draft_only_their_organisation_sees(catalogue_app, store, org, member):
    client = signed_in(catalogue_app, member)
    slug = slug_from(send(client, NEW, entry_data(action="draft")))
    entry = entry_by_slug(store, slug)
    assert entry.status == "draft" and entry.organisation_id == org.id
    assert [r.author_id for r in revisions_of(store, entry)] == [member.id]
    assert client.get(f"/entries/{slug}").status_code == 200
    colleague = add_user(catalogue_app, store, org)
    outsider = add_user(catalogue_app, store, make_organisation(store, sector="health"))
    assert signed_in(catalogue_app, colleague).get(f"/entries/{slug}").status_code == 200
    assert signed_in(catalogue_app, outsider).get(f"/entries/{slug}").status_code == 404
    assert catalogue_app.test_client().get(f"/entries/{slug}").status_code == 404


def test_editor_publishes_a_new_entry_and_a_member_cannot(catalogue_app, store, member, editor):
    before = counts(store)
    publish = entry_data(action="publish")
    assert send(signed_in(catalogue_app, member), NEW, publish).status_code == 403
    assert counts(store) == before
    slug = slug_from(send(signed_in(catalogue_app, editor), NEW, publish))
    assert entry_by_slug(store, slug).status == "published"
    assert catalogue_app.test_client().get(f"/entries/{slug}").status_code == 200


def test_every_field_round_trips(catalogue_app, store, editor):
    terms = {"relevant_sectors": ["education", "health"], "channels": ["facebook", "sms-text"]}
    terms["topics"] = ["accessibility", "evaluation"]
    values = {"licence": "CC-BY-SA-4.0", "evidence_stage": "tried-locally", "outcome": "promising"}
    sent = entry_data(kind="case_study", review_by="2027-03-31", edit_summary="First version")
    sent |= terms | values
    client = signed_in(catalogue_app, editor)
    entry = entry_by_slug(store, slug_from(send(client, "/entries/new?kind=case_study", sent)))
    assert (entry.kind, entry.title, entry.summary, entry.review_by) == (
        "case_study", sent["title"], sent["summary"], date(2027, 3, 31),
    )  # fmt: skip
    assert {name: sorted(term.slug for term in getattr(entry, name)) for name in terms} == terms
    assert {name: getattr(entry, name) for name in values} == values
    [revision] = revisions_of(store, entry)
    assert revision.details == terms | values | {"review_by": "2027-03-31"}
    assert revision.body == sent["body"] and revision.edit_summary == "First version"
    shown = Page(client.get(f"/entries/{entry.slug}/edit").text).form("/edit")
    assert {name: sorted(shown.getlist(name)) for name in terms} == terms
    for name in ("title", "summary", "body", "review_by", *values):
        assert shown[name] == sent[name], name


def test_case_study_fields_are_dropped_for_guidance(catalogue_app, store, editor):
    sent = entry_data(evidence_stage="idea", outcome="worked", action="publish")
    slug = slug_from(send(signed_in(catalogue_app, editor), NEW, sent))
    entry = entry_by_slug(store, slug)
    assert entry.kind == "guidance"
    assert entry.evidence_stage is None and entry.outcome is None
    assert revisions_of(store, entry)[0].details["outcome"] is None


# Editing --------------------------------------------------------------------------------------


@pytest.fixture
def published(store, org):
    body = "First paragraph.\n\nSecond paragraph.\n"
    entry = make_entry(store, org, slug="published-entry", title="Night shift questions",
                       summary="How we did it.", body=body)  # fmt: skip
    store.commit()
    return entry


def test_edit_form_is_prefilled_with_current_content(catalogue_app, member, published):
    page = Page(signed_in(catalogue_app, member).get("/entries/published-entry/edit").text)
    form = page.form("/entries/published-entry/edit")
    assert form["base_revision"] == "1"
    assert (form["title"], form["summary"]) == ("Night shift questions", "How we did it.")
    assert form["body"] == "First paragraph.\n\nSecond paragraph.\n"
    assert form.getlist("channels") == ["x-twitter"] and form.getlist("topics") == ["evaluation"]


def test_saving_an_edit_writes_the_next_revision(catalogue_app, store, member, published):
    client = signed_in(catalogue_app, member)
    data = Page(client.get("/entries/published-entry/edit").text).form("/edit")
    data["body"] = "First paragraph, improved.\n\nSecond paragraph.\n"
    data["action"], data["edit_summary"] = "save", "Improved the first paragraph"
    response = send(client, "/entries/published-entry/edit", data)
    assert response.headers["Location"] == "/entries/published-entry"
    entry = entry_by_slug(store, "published-entry")
    assert entry.current_revision_number == 2
    first, second = revisions_of(store, entry)
    assert first.body == "First paragraph.\n\nSecond paragraph.\n"
    assert second.number == 2 and second.author_id == member.id
    assert second.edit_summary == "Improved the first paragraph"
    assert second.body == "First paragraph, improved.\n\nSecond paragraph.\n"
    assert "Saved as revision 2." in client.get("/entries/published-entry").text


def test_saving_unchanged_content_writes_nothing(catalogue_app, store, member, published):
    client = signed_in(catalogue_app, member)
    data = Page(client.get("/entries/published-entry/edit").text).form("/edit")
    data["action"], data["edit_summary"] = "save", "no real change"
    before = counts(store)
    assert send(client, "/entries/published-entry/edit", data).status_code == 302
    assert counts(store) == before
    assert entry_by_slug(store, "published-entry").current_revision_number == 1
    assert "Nothing was saved" in client.get("/entries/published-entry").text


def test_changing_only_tags_writes_a_revision_with_the_details(
    catalogue_app, store, member, published
):
    client = signed_in(catalogue_app, member)
    data = Page(client.get("/entries/published-entry/edit").text).form("/edit")
    data.setlist("channels", ["x-twitter", "podcasts"])
    data.setlist("topics", ["accessibility"])
    data["action"] = "save"
    assert send(client, "/entries/published-entry/edit", data).status_code == 302
    entry = entry_by_slug(store, "published-entry")
    first, second = revisions_of(store, entry)
    assert second.body == first.body and second.title == first.title
    assert second.details["channels"] == ["podcasts", "x-twitter"]
    assert second.details["topics"] == ["accessibility"]
    assert first.details["topics"] == ["evaluation"]
    assert {c.slug for c in entry.channels} == {"x-twitter", "podcasts"}


# Status changes and slugs ---------------------------------------------------------------------


def test_publish_archive_restore_change_status_and_delete_nothing(
    catalogue_app, store, org, member, editor
):
    make_entry(store, org, slug="lifecycle", status="draft")
    store.commit()
    client, colleague = signed_in(catalogue_app, editor), signed_in(catalogue_app, member)
    form = Page(colleague.get("/entries/lifecycle/edit").text).form("/edit")
    form["body"], form["action"] = "A second revision.", "draft"
    assert send(colleague, "/entries/lifecycle/edit", form).status_code == 302
    before = counts(store)
    assert send(colleague, "/entries/lifecycle/publish", {}).status_code == 403
    form["base_revision"], form["body"], form["action"] = "2", "Changed, published.", "publish"
    assert send(colleague, "/entries/lifecycle/edit", form).status_code == 403
    assert counts(store) == before and entry_by_slug(store, "lifecycle").status == "draft"
    for route, status in [("publish", "published"), ("archive", "archived")]:
        assert send(client, f"/entries/lifecycle/{route}", {}).status_code == 302
        assert entry_by_slug(store, "lifecycle").status == status
        assert counts(store) == before
    assert client.get("/entries/lifecycle").status_code == 200
    assert client.get("/entries/lifecycle/edit").status_code == 403
    assert send(client, "/entries/lifecycle/restore", {}).status_code == 302
    entry = entry_by_slug(store, "lifecycle")
    assert entry.status == "published" and entry.current_revision_number == 2
    assert [r.body for r in revisions_of(store, entry)][1:] == ["A second revision."]
    assert counts(store) == before


def test_same_title_gets_a_unique_slug_and_never_new(catalogue_app, store, editor):
    client = signed_in(catalogue_app, editor)
    slugs = [
        slug_from(send(client, NEW, entry_data(title=title)))
        for title in ("Same title", "Same title", "New", "new")
    ]
    assert slugs[:2] == ["same-title", "same-title-2"]
    assert "new" not in slugs and len(set(slugs)) == 4
    assert "What are you adding?" in client.get("/entries/new").text
