"""Every number in the /borrowing table links to the borrows and adoptions it counts, and the
list behind it holds exactly that many (checked in plain SQL). Wide tables sit in labelled,
keyboard-focusable scroll regions."""

from __future__ import annotations

import html
import re

from sqlalchemy import text

COPIES = """SELECT COUNT(*) FROM borrows b JOIN entries s ON s.id = b.source_id
            JOIN entries c ON c.id = b.entry_id JOIN sectors ls ON ls.id = s.origin_sector_id
            JOIN sectors bs ON bs.id = c.origin_sector_id
            WHERE c.status IN ('published', 'archived')"""
ADOPTIONS = """SELECT COUNT(*) FROM adoptions a JOIN entries e ON e.id = a.entry_id
               JOIN organisations o ON o.id = a.organisation_id
               JOIN sectors ls ON ls.id = e.origin_sector_id JOIN sectors bs ON bs.id = o.sector_id
               WHERE 1 = 1"""


def _sql_count(session, lender: str | None, borrower: str | None) -> int:
    where, values = "", {}
    if lender:
        where += " AND ls.slug = :lender"
        values["lender"] = lender
    if borrower:
        where += " AND bs.slug = :borrower"
        values["borrower"] = borrower
    return sum(
        session.execute(text(sql + where), values).scalar_one() for sql in (COPIES, ADOPTIONS)
    )


def _listed(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    page = response.get_data(as_text=True)
    return len(re.findall(r"<tr>\s*<th scope=\"row\">", page))


def _links(page: str) -> list[tuple[str, str]]:
    """(href, number shown) for every link to a list of borrows."""
    found = re.findall(r'<a href="(/borrowing/between[^"]*)">(?:<strong>)?(\d+)', page)
    return [(html.unescape(href), number) for href, number in found]


def test_every_number_links_to_exactly_what_it_counts(client, session):
    page = client.get("/borrowing").get_data(as_text=True)
    links = _links(page)
    cells = [link for link in links if "lent-by" in link[0] and "borrowed-by" in link[0]]
    assert len(cells) >= 5 and len(links) > len(cells)
    for href, number in links:
        lender = re.search(r"lent-by=([a-z-]+)", href)
        borrower = re.search(r"borrowed-by=([a-z-]+)", href)
        expected = _sql_count(session, lender and lender.group(1), borrower and borrower.group(1))
        assert int(number) == expected, href
        assert _listed(client, href) == expected, href


def test_zero_cells_are_not_links(client):
    page = client.get("/borrowing").get_data(as_text=True)
    zeros = re.findall(r'<td class="heat-0[^"]*">(.*?)</td>', page)
    assert zeros and all("<a " not in cell for cell in zeros)


def test_the_list_names_both_sectors(client):
    page = client.get("/borrowing/between?lent-by=police&borrowed-by=health").get_data(as_text=True)
    assert "<h1>Borrowed from Police by Health</h1>" in page


def test_an_unknown_sector_is_not_found(client):
    assert client.get("/borrowing/between?lent-by=pirates").status_code == 404
    assert client.get("/borrowing/between?borrowed-by=pirates").status_code == 404


def test_wide_tables_scroll_in_labelled_focusable_regions(client):
    for url in ("/", "/borrowing", "/borrowing/between",
                "/entries/cairnloch-wildfire-flood-warnings-three-channels/history"):  # fmt: skip
        page = client.get(url).get_data(as_text=True)
        regions = re.findall(r'<div class="table-scroll"([^>]*)>', page)
        assert regions, url
        for attributes in regions:
            assert 'role="region"' in attributes and 'tabindex="0"' in attributes, url
            label = re.search(r'aria-labelledby="([^"]+)"', attributes).group(1)
            assert f'id="{label}"' in page, (url, label)


def test_tables_written_in_entries_scroll_in_their_own_numbered_regions(catalogue_app):
    from kb.rendering import render_markdown

    with catalogue_app.app_context():
        html_out = str(render_markdown("| a |\n|---|\n| 1 |\n\ntext\n\n| b |\n|---|\n| 2 |\n"))
    opened = re.findall(r'<div class="table-scroll" role="region" tabindex="0" '
                        r'aria-label="Table (\d)"><table>', html_out)  # fmt: skip
    assert opened == ["1", "2"]
    assert html_out.count("</table></div>") == 2
