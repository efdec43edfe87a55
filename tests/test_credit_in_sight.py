"""Credit in sight: under an entry's title, beside the byline, a copy says what it was adapted
from, by whom and under which licence, and an entry others borrowed says by how many
organisations; the sidebar keeps the detail. Counts are checked against SQL."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.borrowing_support import lineage_panel, page_text, plain

# The sample catalogue's chain: original → middle (a copy) → grandchild (a copy of the copy).
ORIGINAL = "cairnloch-wildfire-flood-warnings-three-channels"
MIDDLE = "strathbeck-flood-and-storm-warnings-three-channels"
GRANDCHILD = "oakhurst-severe-weather-closure-warnings-three-channels"


def _header(client, slug: str) -> str:
    response = client.get(f"/entries/{slug}")
    assert response.status_code == 200
    page = page_text(response)
    return re.search(r'<header class="entry-header">.*?</header>', page, re.S).group(0)


def _lineage_line(header: str) -> str:
    found = re.search(r'<p class="lineage-line">.*?</p>', header, re.S)
    return plain(found.group(0)) if found else ""


def _borrowing_organisations(session, slug: str) -> int:
    sql = """SELECT COUNT(DISTINCT c.organisation_id) FROM borrows b
             JOIN entries c ON c.id = b.entry_id JOIN entries s ON s.id = b.source_id
             WHERE s.slug = :slug AND c.status IN ('published', 'archived')"""
    return session.execute(text(sql), {"slug": slug}).scalar_one()


def _title_and_org(session, slug: str) -> tuple[str, str]:
    sql = """SELECT e.title, o.name FROM entries e JOIN organisations o
             ON o.id = e.organisation_id WHERE e.slug = :slug"""
    return tuple(session.execute(text(sql), {"slug": slug}).one())


def test_a_copy_says_where_it_comes_from_under_its_title(client, session):
    line = _lineage_line(_header(client, MIDDLE))
    title, organisation = _title_and_org(session, ORIGINAL)
    assert line.startswith(f"Adapted from {title} by {organisation}, under "), line
    # The sidebar keeps the detail.
    assert f"Adapted from {title} by {organisation}" in lineage_panel(
        page_text(client.get(f"/entries/{MIDDLE}"))
    )


def test_a_copy_of_a_copy_names_the_original_author_too(client, session):
    line = _lineage_line(_header(client, GRANDCHILD))
    middle_title, middle_org = _title_and_org(session, MIDDLE)
    _title, original_org = _title_and_org(session, ORIGINAL)
    assert line.startswith(f"Adapted from {middle_title} by {middle_org}, itself adapted from "
                           f"{original_org}'s original, under "), line  # fmt: skip


def test_the_borrowed_by_count_is_beside_the_byline_and_matches_sql(client, session):
    for slug in (ORIGINAL, MIDDLE):
        count = _borrowing_organisations(session, slug)
        assert count >= 1
        words = f"Borrowed by {count} organisation{'' if count == 1 else 's'}."
        assert words in _lineage_line(_header(client, slug)), slug


def test_an_entry_nobody_borrowed_has_no_lineage_line_but_names_its_licence(client, session):
    sql = """SELECT slug FROM entries WHERE status = 'published'
             AND id NOT IN (SELECT entry_id FROM borrows)
             AND id NOT IN (SELECT source_id FROM borrows) ORDER BY slug LIMIT 1"""
    slug = session.execute(text(sql)).scalar_one()
    header = _header(client, slug)
    assert _lineage_line(header) == ""
    assert re.search(r'Licence: <a href="#reuse-heading">[^<]+</a>', header)
