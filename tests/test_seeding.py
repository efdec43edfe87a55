"""The sample catalogue: what it contains, idempotent loading, and rejection of bad files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, inspect, select, text

from kb.db import db
from kb.models import Channel, Entry, Organisation, Revision, Sector, Topic
from kb.rendering import plain_text
from kb.seeding import SeedError, load_catalogue
from tests.conftest import SEED_DIR

ENTRY_FILES = sorted((SEED_DIR / "entries").glob("*.md"))


def _front_matter(path: Path) -> tuple[dict, str]:
    head, body = path.read_text(encoding="utf-8")[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_catalogue_size_and_spread(session):
    published = select(Entry).where(Entry.status == "published")
    entries = session.scalars(published).all()
    assert len(entries) >= 30
    assert len({e.organisation_id for e in entries}) >= 12
    assert len({e.origin_sector_id for e in entries}) >= 5
    assert {e.kind for e in entries} == {"case_study", "guidance"}
    channels = {c.slug for e in entries for c in e.channels}
    assert len(channels) >= 8
    all_topics = set(session.scalars(select(Topic.slug)))
    assert {t.slug for e in entries for t in e.topics} == all_topics
    assert session.scalar(select(func.count(Sector.id))) == 8
    assert session.scalar(select(func.count(Channel.id))) >= 14
    assert session.scalar(select(func.count(Topic.id))) >= 10


def test_every_organisation_is_marked_sample(session):
    assert session.scalars(select(Organisation.is_sample)).all()
    assert all(session.scalars(select(Organisation.is_sample)))


@pytest.mark.parametrize("path", ENTRY_FILES, ids=lambda p: p.stem)
def test_each_body_is_a_useful_length_with_headings(path):
    _meta, body = _front_matter(path)
    words = len(plain_text(body).split())
    assert 300 <= words <= 1200, f"{path.name} has {words} words"
    assert re.search(r"^## ", body, re.MULTILINE)
    assert re.search(r"^\s*([-*]|\d+\.) ", body, re.MULTILINE), "no list"


def test_catalogue_has_a_table_somewhere():
    assert any(re.search(r"^\|.*\|\s*$\n^\|[ :|-]+\|", p.read_text(), re.MULTILINE)
               for p in ENTRY_FILES)  # fmt: skip


def test_each_entry_has_its_revisions_with_rendered_html(session):
    """One revision each, plus the later revisions ``borrowing.yaml`` adds."""
    updates = yaml.safe_load((SEED_DIR / "borrowing.yaml").read_text())["updates"]
    later = {item["entry"]: item["revision"] for item in updates}
    assert later
    for entry in session.scalars(select(Entry)):
        assert entry.current_revision_number == later.get(entry.slug, 1)
        assert [r.number for r in entry.revisions] == list(range(1, later.get(entry.slug, 1) + 1))
        assert all(r.body_html.startswith("<") for r in entry.revisions)
        assert entry.current_revision.title == entry.title


def _snapshot(session) -> dict:
    """Every row of every table, to prove a second load changes nothing at all."""
    tables = sorted(inspect(session.connection()).get_table_names())
    return {
        name: sorted(session.execute(text(f'SELECT * FROM "{name}"')).all(), key=repr)
        for name in tables
    }


def test_seed_is_idempotent(session):
    before = _snapshot(session)
    report = load_catalogue(session, SEED_DIR)
    session.commit()
    assert report.total_created == 0
    assert report.unchanged["entries"] == len(ENTRY_FILES)
    assert _snapshot(session) == before


# --- rejecting bad files -------------------------------------------------------------------


@pytest.fixture
def seed_copy(tmp_path) -> Path:
    root = tmp_path / "seed_data"
    shutil.copytree(SEED_DIR, root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content, f"{old!r} not in {path}"
    path.write_text(content.replace(old, new, 1), encoding="utf-8")


def _first_entry(root: Path, kind: str = "guidance") -> Path:
    for path in sorted((root / "entries").glob("*.md")):
        if f"\nkind: {kind}\n" in path.read_text():
            return path
    raise AssertionError(kind)


def _set(path: Path, field: str, value=None, *, drop: bool = False) -> None:
    """Rewrite one front-matter field (as raw YAML text, so it can be deliberately wrong)."""
    meta, body = _front_matter(path)
    meta = {k: v for k, v in meta.items() if not (drop and k == field)}
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    if not drop:
        head = re.sub(rf"^{field}:.*(\n[ -].*)*", "", head, flags=re.MULTILINE)
        head += f"{field}: {value}\n"
    path.write_text(f"---\n{head}---\n{body}", encoding="utf-8")


BREAKAGES = {
    "invalid yaml": (lambda p: _edit(p, "\nkind:", "\nkind: [unclosed\nx:"), "(front matter)",
                     "not valid YAML"),
    "missing title": (lambda p: _set(p, "title", drop=True), "title", "is required"),
    "unknown organisation": (lambda p: _set(p, "organisation", "no-such-body"), "organisation",
                             "'no-such-body' is not one of"),
    "unknown channel": (lambda p: _set(p, "channels", "[carrier-pigeon]"), "channels",
                        "unknown: carrier-pigeon"),
    "unknown topic": (lambda p: _set(p, "topics", "[astrology]"), "topics", "unknown: astrology"),
    "bad kind": (lambda p: _set(p, "kind", "manifesto"), "kind", "'manifesto' is not one of"),
    "bad licence": (lambda p: _set(p, "licence", "WTFPL"), "licence", "'WTFPL' is not one of"),
    "summary too long": (lambda p: _set(p, "summary", "x" * 301), "summary",
                         "301 characters; the limit is 300"),
    "slug mismatch": (lambda p: _set(p, "slug", "another-name"), "slug",
                      "must match the file name"),
    "bad date": (lambda p: _set(p, "created", "last tuesday"), "created", "must be a date"),
    "dates out of order": (lambda p: _set(p, "updated", "2000-01-01"), "updated",
                           "is before created"),
    "guidance with an outcome": (lambda p: _set(p, "outcome", "worked"), "outcome",
                                 "only case studies"),
    "unknown field": (lambda p: _set(p, "colour", "blue"), "(front matter)",
                      "unknown fields: colour"),
    "no front matter": (lambda p: p.write_text("Just a body.\n"), "(front matter)",
                        "must start with '---'"),
}  # fmt: skip


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_bad_entry_file_is_rejected_with_path_field_and_reason(app, seed_copy, breakage):
    breaker, field, reason = BREAKAGES[breakage]
    path = _first_entry(seed_copy)
    breaker(path)
    with app.app_context():
        before = _snapshot(db.session)
        with pytest.raises(SeedError) as caught:
            load_catalogue(db.session, seed_copy)
        db.session.rollback()
        assert _snapshot(db.session) == before, "nothing may be loaded from a bad run"
    messages = [str(problem) for problem in caught.value.problems]
    expected = f"seed_data/entries/{path.name}: {field}: "
    assert any(m.startswith(expected) and reason in m for m in messages), messages


def test_case_study_needs_evidence_and_outcome(app, seed_copy):
    path = _first_entry(seed_copy, "case_study")
    _set(path, "outcome", drop=True)
    with app.app_context(), pytest.raises(SeedError, match=rf"{path.name}: outcome: is required"):
        load_catalogue(db.session, seed_copy)


def test_duplicate_slug_is_rejected(app, seed_copy):
    original = _first_entry(seed_copy)
    copy = original.with_name("zz-duplicate.md")
    copy.write_text(original.read_text())
    _set(copy, "slug", original.stem)
    with app.app_context(), pytest.raises(SeedError) as caught:
        load_catalogue(db.session, seed_copy)
    assert any("zz-duplicate.md" in str(p) for p in caught.value.problems)


def test_bad_organisation_file_is_rejected(app, seed_copy):
    _edit(seed_copy / "organisations.yaml", "sector: police", "sector: space-agency")
    with app.app_context(), pytest.raises(SeedError, match=r"organisations.yaml: .*\.sector: "
                                          r"unknown sector 'space-agency'"):  # fmt: skip
        load_catalogue(db.session, seed_copy)


def test_unreadable_taxonomy_is_rejected(app, seed_copy):
    (seed_copy / "taxonomy.yaml").write_text("sectors: [\n")
    with app.app_context(), pytest.raises(SeedError, match=r"taxonomy.yaml: \(file\): cannot"):
        load_catalogue(db.session, seed_copy)


def test_one_bad_file_loads_nothing_even_into_an_empty_database(app, seed_copy):
    _set(_first_entry(seed_copy), "kind", "nonsense")
    with app.app_context():
        with pytest.raises(SeedError):
            load_catalogue(db.session, seed_copy)
        db.session.rollback()
        assert db.session.scalar(select(func.count(Organisation.id))) == 0
        assert db.session.scalar(select(func.count(Revision.id))) == 0


def test_cli_seed_reports_problems_and_exits_non_zero(app, seed_copy):
    _set(_first_entry(seed_copy), "kind", "nonsense")
    app.config["SEED_DIR"] = str(seed_copy)
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 1
    assert "nothing was loaded" in result.output
    assert "kind: 'nonsense' is not one of" in result.output
