"""Reading and checking ``seed_data/``: taxonomy, organisations and entries (and, through
``reuse.py``, copies and ``borrowing.yaml``). Every problem is collected, with its path, field
and reason, before anything is written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml

from kb.models import (
    LICENCE_CODES,
    SUMMARY_MAX,
    TERM_MODELS,
    EvidenceStage,
    Kind,
    Outcome,
    Status,
)
from kb.seeding.reuse import COPY_FIELDS, check_copies, read_copy_fields, read_reuse

# taxonomy.yaml's lists: "sectors", "channels" and "topics".
TERM_LISTS = {f"{name}s": model for name, model in TERM_MODELS.items()}
ENTRY_FIELDS = {
    "slug", "kind", "title", "summary", "organisation", "relevant_sectors", "channels", "topics",
    "licence", "evidence_stage", "outcome", "review_by", "created", "updated", "status",
    *COPY_FIELDS,
}  # fmt: skip
ORG_FIELDS = {"slug", "name", "sector", "region", "website", "description", "contact"}
SLUG_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class Problem:
    path: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.reason}"


class SeedError(Exception):
    """The catalogue has problems; nothing was loaded."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class _Reader:
    """Collects problems while reading files, so every problem is reported at once."""

    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []

    def fail(self, path: Path, name: str, reason: str) -> None:
        self.problems.append(Problem(str(path.relative_to(self.root.parent)), name, reason))

    def yaml_file(self, path: Path):
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            self.fail(path, "(file)", f"cannot be read as YAML: {_one_line(error)}")
            return None

    def front_matter(self, path: Path) -> tuple[dict | None, str]:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.fail(path, "(file)", f"cannot be read: {_one_line(error)}")
            return None, ""
        if not text.startswith("---\n") or "\n---\n" not in text[4:]:
            self.fail(path, "(front matter)", "must start with '---' and end with a '---' line")
            return None, ""
        head, body = text[4:].split("\n---\n", 1)
        try:
            meta = yaml.safe_load(head)
        except yaml.YAMLError as error:
            self.fail(path, "(front matter)", f"is not valid YAML: {_one_line(error)}")
            return None, ""
        if not isinstance(meta, dict):
            self.fail(path, "(front matter)", "must be a mapping of field: value")
            return None, ""
        return meta, body.strip() + "\n"


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _is_slug(value) -> bool:
    return isinstance(value, str) and bool(value) and set(value) <= SLUG_CHARS


def _text(reader, path, meta, name, *, required=True, limit=None) -> str:
    value = meta.get(name)
    if value is None or value == "":
        if required:
            reader.fail(path, name, "is required")
        return ""
    if not isinstance(value, str):
        reader.fail(path, name, "must be text")
        return ""
    value = " ".join(value.split())
    if limit and len(value) > limit:
        reader.fail(path, name, f"is {len(value)} characters; the limit is {limit}")
    return value


def _date(reader, path, meta, name, *, required=True) -> date | None:
    value = meta.get(name)
    if value is None:
        if required:
            reader.fail(path, name, "is required (YYYY-MM-DD)")
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    reader.fail(path, name, f"must be a date written YYYY-MM-DD, not {value!r}")
    return None


def _slugs(reader, path, meta, name, known: set[str], *, minimum=0) -> list[str]:
    value = meta.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        reader.fail(path, name, "must be a list of slugs")
        return []
    unknown = [item for item in value if item not in known]
    if unknown:
        reader.fail(path, name, f"unknown: {', '.join(unknown)}")
    if len(value) < minimum:
        reader.fail(path, name, f"needs at least {minimum}")
    return list(dict.fromkeys(value))


def _choice(reader, path, meta, name, allowed: Iterable[str], *, required=True) -> str | None:
    value = meta.get(name)
    allowed = list(allowed)
    if value is None:
        if required:
            reader.fail(path, name, f"is required (one of {', '.join(allowed)})")
        return None
    if value not in allowed:
        reader.fail(path, name, f"{value!r} is not one of {', '.join(allowed)}")
        return None
    return value


@dataclass
class _Catalogue:
    terms: dict[str, list[dict]]
    organisations: list[dict]
    entries: list[dict]
    reuse: dict


def _read_taxonomy(reader: _Reader, path: Path) -> dict[str, list[dict]]:
    data = reader.yaml_file(path)
    terms: dict[str, list[dict]] = {}
    if data is None:
        return {name: [] for name in TERM_LISTS}
    if not isinstance(data, dict):
        reader.fail(path, "(file)", "must map sectors, channels and topics to lists")
        return {name: [] for name in TERM_LISTS}
    for name in TERM_LISTS:
        items = data.get(name)
        if not isinstance(items, list) or not items:
            reader.fail(path, name, "must be a non-empty list")
            items = []
        seen: set[str] = set()
        terms[name] = []
        for position, item in enumerate(items):
            label = f"{name}[{position}]"
            if not isinstance(item, dict) or not _is_slug(item.get("slug")):
                reader.fail(path, f"{label}.slug", "must be a lowercase-hyphenated slug")
                continue
            if item["slug"] in seen:
                reader.fail(path, f"{label}.slug", f"{item['slug']!r} appears twice")
            seen.add(item["slug"])
            term_name = _text(reader, path, item, "name", limit=120)
            terms[name].append(
                {"slug": item["slug"], "name": term_name,
                 "description": item.get("description") or "", "position": position}
            )  # fmt: skip
    return terms


def _read_organisations(reader: _Reader, path: Path, sectors: set[str]) -> list[dict]:
    data = reader.yaml_file(path)
    if data is None:
        return []
    if not isinstance(data, list):
        reader.fail(path, "(file)", "must be a list of organisations")
        return []
    organisations, seen = [], set()
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            reader.fail(path, f"[{index}]", "must be a mapping of field: value")
            continue
        unknown = set(item) - ORG_FIELDS
        if unknown:
            reader.fail(path, f"[{index}]", f"unknown fields: {', '.join(sorted(unknown))}")
        slug = item.get("slug")
        if not _is_slug(slug):
            reader.fail(path, f"[{index}].slug", "must be a lowercase-hyphenated slug")
            continue
        if slug in seen:
            reader.fail(path, f"{slug}.slug", "appears twice")
        seen.add(slug)
        record = {"slug": slug}
        for name, limit, required in (("name", 200, True), ("region", 120, False),
                                      ("website", 300, False), ("contact", 300, True),
                                      ("description", None, False)):  # fmt: skip
            record[name] = _text(reader, path, item, name, required=required, limit=limit)
        if item.get("sector") not in sectors:
            reader.fail(path, f"{slug}.sector", f"unknown sector {item.get('sector')!r}")
        record["sector"] = item.get("sector")
        organisations.append(record)
    return organisations


def _read_entry(reader: _Reader, path: Path, known: dict[str, set[str]]) -> dict | None:
    meta, body = reader.front_matter(path)
    if meta is None:
        return None
    before = len(reader.problems)
    unknown = set(meta) - ENTRY_FIELDS
    if unknown:
        reader.fail(path, "(front matter)", f"unknown fields: {', '.join(sorted(unknown))}")
    slug = meta.get("slug")
    if not _is_slug(slug):
        reader.fail(path, "slug", "must be a lowercase-hyphenated slug")
    elif slug != path.stem:
        reader.fail(path, "slug", f"{slug!r} must match the file name {path.stem!r}")
    kind = _choice(reader, path, meta, "kind", [k.value for k in Kind])
    record = {
        "slug": slug,
        "kind": kind,
        "title": _text(reader, path, meta, "title", limit=200),
        "summary": _text(reader, path, meta, "summary", limit=SUMMARY_MAX),
        "organisation": _choice(reader, path, meta, "organisation", sorted(known["orgs"])),
        "relevant_sectors": _slugs(reader, path, meta, "relevant_sectors", known["sectors"]),
        "channels": _slugs(reader, path, meta, "channels", known["channels"], minimum=1),
        "topics": _slugs(reader, path, meta, "topics", known["topics"], minimum=1),
        "licence": _choice(reader, path, meta, "licence", LICENCE_CODES),
        "status": meta.get("status", Status.PUBLISHED.value),
        "review_by": _date(reader, path, meta, "review_by", required=False),
        "created": _date(reader, path, meta, "created"),
        "updated": _date(reader, path, meta, "updated"),
        "body": body,
    }
    if record["status"] not in {s.value for s in Status}:
        reader.fail(path, "status", f"{record['status']!r} is not draft, published or archived")
    case_study = kind == Kind.CASE_STUDY.value
    for name, enum_cls in (("evidence_stage", EvidenceStage), ("outcome", Outcome)):
        if case_study:
            record[name] = _choice(reader, path, meta, name, [m.value for m in enum_cls])
        elif name in meta:
            reader.fail(path, name, "only case studies have this field")
    if record["created"] and record["updated"] and record["updated"] < record["created"]:
        reader.fail(path, "updated", "is before created")
    if not body.strip():
        reader.fail(path, "(body)", "is empty")
    read_copy_fields(reader, path, meta, record)
    return record if len(reader.problems) == before else None


def _raise_problems(reader: _Reader) -> None:
    if reader.problems:
        raise SeedError(reader.problems)


def read_taxonomy(root: Path) -> dict[str, list[dict]]:
    """Read and check ``taxonomy.yaml`` alone; raise SeedError listing all problems."""
    reader = _Reader(root)
    terms = _read_taxonomy(reader, root / "taxonomy.yaml")
    _raise_problems(reader)
    return terms


def read_catalogue(root: Path) -> _Catalogue:
    """Read and check every seed file under ``root``; raise SeedError listing all problems."""
    reader = _Reader(root)
    terms = _read_taxonomy(reader, root / "taxonomy.yaml")
    known = {name: {term["slug"] for term in items} for name, items in terms.items()}
    organisations = _read_organisations(reader, root / "organisations.yaml", known["sectors"])
    known["orgs"] = {org["slug"] for org in organisations}
    entries, seen = [], {}
    for path in sorted((root / "entries").glob("*.md")):
        record = _read_entry(reader, path, known)
        if record is None:
            continue
        if record["slug"] in seen:
            reader.fail(path, "slug", f"already used by {seen[record['slug']]}")
        seen[record["slug"]] = path.name
        entries.append(record)
    entries = check_copies(reader, root, entries)
    reuse = read_reuse(reader, root / "borrowing.yaml", entries, known["orgs"])
    _raise_problems(reader)
    return _Catalogue(terms, organisations, entries, reuse)
