"""The entry page: every field a reader needs, review flags, visibility by status."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kb.models import AppendOnlyError, Revision
from tests.factories import make_entry, make_organisation


@pytest.fixture
def org(session):
    return make_organisation(session, sector="health", name="Testshire Health Board",
                             region="Wales", contact="comms@testshire.example.org")  # fmt: skip


def test_entry_page_shows_every_field(catalogue_app, session, org):
    make_entry(
        session, org, slug="full-entry", kind="case_study", title="Texting flu clinic reminders",
        summary="What happened when we texted reminders.", body="## Context\n\nWe **texted**.",
        channels=("sms-text", "facebook"), topics=("evaluation",), relevant=("police",),
        licence="CC-BY-4.0", evidence_stage="evaluated-locally", outcome="mixed",
        review_by=date.today() + timedelta(days=90),
    )  # fmt: skip
    session.commit()
    html = catalogue_app.test_client().get("/entries/full-entry").get_data(as_text=True)
    for expected in [
        "<h1>Texting flu clinic reminders</h1>", "Case study", "What happened when we texted",
        'href="/orgs/', "Testshire Health Board", 'href="/sectors/health"',
        'href="/sectors/police"', 'href="/channels/sms-text"', 'href="/channels/facebook"',
        'href="/topics/evaluation"', "Evaluated locally", "Mixed",
        "Creative Commons Attribution 4.0", "licensed under Creative Commons Attribution 4.0",
        "Review by", "Last updated", "<strong>texted</strong>", "Contact this organisation",
        'href="mailto:comms@testshire.example.org"', "Sample content.",
    ]:  # fmt: skip
        assert expected in html, expected
    assert "Due for review" not in html.split('id="related-heading"')[0]  # not the related cards


def test_past_review_date_is_flagged(catalogue_app, session, org):
    make_entry(session, org, slug="stale", review_by=date(2020, 1, 31))
    session.commit()
    html = catalogue_app.test_client().get("/entries/stale").get_data(as_text=True)
    assert "Due for review." in html and "31 January 2020" in html


def test_guidance_shows_no_case_study_fields(catalogue_app, session, org):
    make_entry(session, org, slug="plain-guidance", kind="guidance")
    session.commit()
    html = catalogue_app.test_client().get("/entries/plain-guidance").get_data(as_text=True)
    assert "<dt>Evidence</dt>" not in html and "<dt>Outcome</dt>" not in html


@pytest.mark.parametrize(
    ("licence", "wording"),
    [
        ("OGL-UK-3.0", "Contains public sector information licensed under the Open Government"),
        ("CC-BY-SA-4.0", "licensed under Creative Commons Attribution-ShareAlike 4.0"),
        ("ask-first", "Ask Testshire Health Board before reusing"),
    ],
)
def test_attribution_statement_per_licence(catalogue_app, session, org, licence, wording):
    make_entry(session, org, slug="licensed", licence=licence, title="Licensed thing")
    session.commit()
    html = catalogue_app.test_client().get("/entries/licensed").get_data(as_text=True)
    assert wording in html
    assert "Licensed thing" in html and "http://localhost/entries/licensed" in html


def test_contact_page_link_when_no_mailbox(catalogue_app, session):
    org = make_organisation(session, contact="https://testorg.example.org/contact")
    make_entry(session, org, slug="with-contact-page")
    session.commit()
    html = catalogue_app.test_client().get("/entries/with-contact-page").get_data(as_text=True)
    assert 'href="https://testorg.example.org/contact"' in html


def test_draft_is_not_public(catalogue_app, session, org):
    make_entry(session, org, slug="secret-draft", status="draft")
    session.commit()
    assert catalogue_app.test_client().get("/entries/secret-draft").status_code == 404


def test_archived_entry_stays_readable_with_a_notice(catalogue_app, session, org):
    make_entry(session, org, slug="old-news", status="archived")
    session.commit()
    response = catalogue_app.test_client().get("/entries/old-news")
    assert response.status_code == 200
    assert "Archived." in response.get_data(as_text=True)


def test_every_seeded_entry_page_renders(client, session):
    from sqlalchemy import select

    from kb.models import Entry

    slugs = session.scalars(select(Entry.slug)).all()
    for slug in slugs:
        response = client.get(f"/entries/{slug}")
        assert response.status_code == 200, slug
        assert '<h2 id="section-' in response.get_data(as_text=True), slug


def test_revisions_are_append_only(session, org):
    entry = make_entry(session, org)
    session.commit()
    revision = session.get(Revision, entry.current_revision.id)
    revision.body = "rewritten in place"
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()


def test_summary_limit_is_enforced_by_the_database(session, org):
    from sqlalchemy.exc import DataError, IntegrityError

    from kb.errors import TOO_LONG, refusal_message

    # SQLite's CHECK raises IntegrityError; PostgreSQL's varchar(300) raises DataError first.
    with pytest.raises((IntegrityError, DataError)) as refused:
        make_entry(session, org, summary="x" * 301)
    session.rollback()
    assert refusal_message(refused.value) == TOO_LONG


def test_case_study_fields_rejected_on_guidance_by_the_database(session, org):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        make_entry(session, org, kind="guidance", outcome="worked")
    session.rollback()


def test_unknown_licence_is_refused_by_the_database(session, org):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="ck_entries_licence"):
        make_entry(session, org, licence="WTFPL")
    session.rollback()
