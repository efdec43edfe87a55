"""Helpers for the borrowing tests: organisations with people, the borrow form as a browser
fills it in, what the database holds, and parsers for the credit, the family tree and the
sector × sector table."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from sqlalchemy import func, select, text
from werkzeug.datastructures import MultiDict

from kb.accounts.demo import DEMO_PASSWORD
from kb.models import Adoption, Borrow, BorrowRequest, Entry, Revision
from tests.editor_support import Page, add_user, fresh, send
from tests.factories import make_entry, make_organisation
from tests.web import signed_in

# -- people and entries ------------------------------------------------------------------------


class Body:
    """An organisation with an editor and a member, each with a signed-in client to hand."""

    def __init__(self, app, store, sector: str, name: str):
        self.app = app
        self.organisation = make_organisation(store, sector=sector, name=name)
        store.commit()
        self.slug = self.organisation.slug
        self.name = name
        self.editor = add_user(app, store, self.organisation, role="editor")
        self.member = add_user(app, store, self.organisation, role="member")

    def client(self, role: str = "editor"):
        return signed_in(self.app, self.editor if role == "editor" else self.member)


def demo_client(app, organisation_slug: str, role: str = "editor"):
    """A client signed in as a demo account of the sample catalogue."""
    return signed_in(app, f"{role}@{organisation_slug}.example", DEMO_PASSWORD)


def source_entry(store, owner: Body, **fields) -> Entry:
    """A published entry of ``owner`` (any field of ``make_entry`` may be given)."""
    fields.setdefault("body", "## Context\n\nThe original text.\n\nA second paragraph.\n")
    entry = make_entry(store, owner.organisation, **fields)
    store.commit()
    return entry


# -- the borrow form ---------------------------------------------------------------------------

NOTE = "We changed the examples to ours and added our own contacts."


def borrow_form(client, slug: str) -> MultiDict:
    """What the borrow form submits as the server filled it in."""
    response = client.get(f"/entries/{slug}/borrow")
    assert response.status_code == 200, response.text[:1000]
    return Page(response.text).form(f"/entries/{slug}/borrow")


def borrow(client, slug: str, *, action: str = "publish", note: str = NOTE, **changes):
    """Fill in the borrow form like a person would, then send it."""
    form = borrow_form(client, slug)
    form["note"], form["action"] = note, action
    for name, value in changes.items():
        if isinstance(value, list):
            form.setlist(name, value)
        else:
            form[name] = value
    return send(client, f"/entries/{slug}/borrow", form)


def copy_slug(response) -> str:
    assert response.status_code == 302, response.text[:3000]
    match = re.fullmatch(r"/entries/([^/]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def borrowed(client, slug: str, **kwargs) -> str:
    """Borrow ``slug`` and return the copy's slug."""
    return copy_slug(borrow(client, slug, **kwargs))


def full_form(source: Entry, **overrides) -> dict:
    """A complete borrow form built by hand (for when the form page itself is refused)."""
    return {
        "kind": source.kind,
        "title": "Our own version",
        "summary": "Adapted for us.",
        "body": "## Context\n\nOur text.\n",
        "channels": ["x-twitter"],
        "licence": source.licence,
        "note": NOTE,
        "source_revision": str(source.current_revision_number),
        "edit_summary": "",
        "action": "publish",
        **overrides,
    }


# -- what the database holds -------------------------------------------------------------------


def tally(store) -> dict[str, int]:
    """How many rows each table touched by borrowing holds."""
    fresh(store)
    models = {
        "entries": Entry,
        "revisions": Revision,
        "borrows": Borrow,
        "adoptions": Adoption,
        "requests": BorrowRequest,
    }
    return {name: store.scalar(select(func.count(m.id))) for name, m in models.items()}


def borrow_row(store, copy: str) -> Borrow:
    fresh(store)
    row = store.scalar(select(Borrow).join(Entry, Entry.id == Borrow.entry_id).where(
        Entry.slug == copy))  # fmt: skip
    assert row is not None, copy
    return row


def reuse_by_slug(store) -> dict[str, int]:
    """Public copies plus adoptions of every entry, straight from SQL."""
    fresh(store)
    rows = store.execute(
        text(
            """
            SELECT e.slug,
                   (SELECT count(*) FROM borrows b JOIN entries c ON c.id = b.entry_id
                     WHERE b.source_id = e.id AND c.status IN ('published', 'archived'))
                 + (SELECT count(*) FROM adoptions a WHERE a.entry_id = e.id)
              FROM entries e
            """
        )
    )
    return dict(rows.all())


def borrowed_across_sectors(store, *, archived: bool = False) -> set[str]:
    """Published (and, if ``archived``, archived) entries with a public copy or an adoption
    from another sector, from SQL."""
    fresh(store)
    statuses = "('published', 'archived')" if archived else "('published')"
    rows = store.execute(
        text(
            f"""
            SELECT e.slug FROM entries e
             WHERE e.status IN {statuses} AND (
                   EXISTS (SELECT 1 FROM borrows b JOIN entries c ON c.id = b.entry_id
                            WHERE b.source_id = e.id
                              AND c.status IN ('published', 'archived')
                              AND c.origin_sector_id != e.origin_sector_id)
                OR EXISTS (SELECT 1 FROM adoptions a
                             JOIN organisations o ON o.id = a.organisation_id
                            WHERE a.entry_id = e.id AND o.sector_id != e.origin_sector_id))
            """
        )
    )
    return set(rows.scalars())


# -- reading pages -----------------------------------------------------------------------------


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def plain(fragment: str) -> str:
    """HTML as the words a reader sees, on one line."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def attribution(page: str) -> list[str]:
    """The paragraphs of the "Reusing this" attribution box, as plain text: the entry's own
    statement first, then one credit for each generation it was adapted from."""
    box = re.search(r'<blockquote class="attribution">(.*?)</blockquote>', page, re.S)
    assert box, "no attribution box"
    return [plain(p) for p in re.findall(r"<p>(.*?)</p>", box.group(1), re.S)]


def lineage_panel(page: str) -> str:
    """The "Borrowing" panel beside an entry, as plain text ('' if there is none)."""
    panel = re.search(r'<section class="panel lineage-panel".*?</section>', page, re.S)
    return plain(panel.group(0)) if panel else ""


class _Tree(HTMLParser):
    """The family tree: nested (slug, text, children) from the lineage-tree lists."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.roots: list[dict] = []
        self._uls: list[list | None] = []  # each open <ul>: its children list, or None
        self._lis: list[dict] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "ul":
            if "lineage-tree" in (a.get("class") or ""):
                self._uls.append(self._lis[-1]["children"] if self._lis else self.roots)
            else:
                self._uls.append(None)
        elif tag == "li" and self._uls and self._uls[-1] is not None:
            node = {"slug": None, "text": [], "children": []}
            self._uls[-1].append(node)
            self._lis.append(node)
        elif tag == "a" and self._lis and self._lis[-1]["slug"] is None:
            match = re.fullmatch(r"/entries/([^/]+)", a.get("href") or "")
            if match:
                self._lis[-1]["slug"] = match.group(1)

    def handle_data(self, data):
        if self._lis and not self._lis[-1]["children"]:
            self._lis[-1]["text"].append(data)

    def handle_endtag(self, tag):
        if tag == "ul" and self._uls:
            self._uls.pop()
        elif tag == "li" and self._lis and self._uls and self._uls[-1] is not None:
            self._lis.pop()


def family_tree(page: str) -> list[tuple]:
    """The tree on a lineage page as nested ``(slug, [children])``."""

    def shape(nodes):
        return [(node["slug"], shape(node["children"])) for node in nodes]

    return shape(_Tree(page).roots)


def family_texts(page: str) -> dict[str, str]:
    """Each entry of a lineage page's tree, with the words shown beside it."""
    found: dict[str, str] = {}

    def walk(nodes):
        for node in nodes:
            found[node["slug"]] = " ".join("".join(node["text"]).split())
            walk(node["children"])

    walk(_Tree(page).roots)
    return found


class _Table(HTMLParser):
    """The cells of the first ``table.grid`` on a page, row by row, with their caption."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.caption = ""
        self.rows: list[list[tuple[str, str | None, str]]] = []
        self._in_table = False
        self._cell: list | None = None
        self._in_caption = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "grid" in (a.get("class") or "").split():
            self._in_table = True
        elif not self._in_table:
            return
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self.rows.append([])
        elif tag in {"th", "td"}:
            self._cell = [tag, a.get("scope"), []]

    def handle_data(self, data):
        if self._in_caption:
            self.caption += data
        elif self._cell is not None:
            self._cell[2].append(data)

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "caption":
            self._in_caption = False
        elif tag in {"th", "td"} and self._cell is not None:
            kind, scope, words = self._cell
            self.rows[-1].append((kind, scope, " ".join("".join(words).split())))
            self._cell = None


def sector_grid(page: str) -> _Table:
    table = _Table(page)
    assert table.rows, "no table.grid on the page"
    return table
