"""The kinds' body templates hold prompts ("How do you know? Surveys, …") for the writer to
replace. A draft that keeps one saves with a warning naming the sections; publishing one is
refused, with the section named in the error summary, and nothing is saved."""

from __future__ import annotations

import html

from kb.entries.content import BODY_TEMPLATES, prompts_left
from tests.editor_support import counts, entry_by_slug, entry_data, send, slug_from
from tests.web import signed_in

NEW = "/entries/new?kind=case_study"


def _case_study(**overrides) -> dict:
    return entry_data(**{"kind": "case_study", "body": BODY_TEMPLATES["case_study"], **overrides})


def _only_evidence_left() -> str:
    """A case study written in the writer's words, except the Evidence prompt."""
    return (
        "## Context\n\nResidents missed warnings.\n\n## What we did\n\nWe texted them.\n\n"
        "## Evidence\n\nHow do you know? Surveys, analytics, evaluation reports.\n\n"
        "## Lessons\n\nStart sooner.\n"
    )


def _error_summary(page: str) -> str:
    start = page.index('class="error-summary"')
    return html.unescape(page[start : page.index("</div>", start)])


def test_prompts_left_names_each_section_once_in_order():
    assert prompts_left("case_study", BODY_TEMPLATES["case_study"]) == [
        "Context", "What we did", "Results", "Evidence", "Lessons", "Resources",
    ]  # fmt: skip
    assert prompts_left("case_study", _only_evidence_left()) == ["Evidence"]
    assert prompts_left("guidance", "## Do and don't\n\n- Do:\n- Don't: swear\n") == [
        "Do and don't"
    ]
    # A prompt's words inside the writer's own sentence are not the prompt left in.
    assert prompts_left("case_study", "We asked: how do you know? Surveys, analytics.") == []


def test_publishing_with_a_prompt_left_is_refused_and_names_the_section(
    catalogue_app, store, editor
):
    client = signed_in(catalogue_app, editor)
    before = counts(store)
    response = send(client, NEW, _case_study(body=_only_evidence_left(), action="publish"))
    assert response.status_code == 400
    summary = _error_summary(response.text)
    assert "The Evidence section still has the template's prompt text" in summary
    assert 'href="#body"' in summary
    assert counts(store) == before


def test_a_draft_keeps_its_prompts_with_a_warning(catalogue_app, store, editor):
    client = signed_in(catalogue_app, editor)
    slug = slug_from(send(client, NEW, _case_study(body=_only_evidence_left())))
    assert entry_by_slug(store, slug).status == "draft"
    page = html.unescape(client.get(f"/entries/{slug}").text)
    warning = "The Evidence section still has the template's prompt text"
    assert f'<p class="flash flash-warning">{warning}' in page
    assert page.count(warning) == 2, "the flash, and the draft's own notice"


def test_the_publish_button_refuses_a_draft_with_prompts(catalogue_app, store, editor):
    client = signed_in(catalogue_app, editor)
    slug = slug_from(send(client, NEW, _case_study()))
    response = send(client, f"/entries/{slug}/publish", {})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/entries/{slug}/edit"
    assert entry_by_slug(store, slug).status == "draft"
    page = html.unescape(client.get(f"/entries/{slug}/edit").text)
    assert "The Context, What we did, Results, Evidence, Lessons and Resources sections" in page


def test_saving_a_published_entry_with_a_prompt_put_back_is_refused(catalogue_app, store, editor):
    client = signed_in(catalogue_app, editor)
    body = _only_evidence_left().replace(
        "How do you know? Surveys, analytics, evaluation reports.", "A survey of 400 residents."
    )
    slug = slug_from(send(client, NEW, _case_study(body=body, action="publish")))
    entry = entry_by_slug(store, slug)
    assert entry.status == "published"
    again = body.replace(
        "Start sooner.", "What would you do differently, and what should others copy?"
    )
    response = send(
        client,
        f"/entries/{slug}/edit",
        _case_study(body=again, action="save", base_revision=str(entry.current_revision_number)),
    )
    assert response.status_code == 400
    assert "The Lessons section still has" in _error_summary(response.text)
    assert entry_by_slug(store, slug).current_revision_number == 1
