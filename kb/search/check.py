"""``kb index-check``: how a replica's index differs from the database, without changing it.

Reads every file checksum and every stored document afresh (nothing cached by the process),
and reports damage as a finding, never as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as whoosh_index

from kb.search import sync
from kb.search.documents import all_entry_ids, iter_documents
from kb.search.folders import live_folder, read_state
from kb.search.index import SearchIndex
from kb.search.integrity import IndexDamaged, Verifier, index_dirs
from kb.search.schema import SCHEMA_VERSION


@dataclass(frozen=True)
class Drift:
    """How the index differs from the database (entry ids)."""

    missing: list[int] = field(default_factory=list)  # entries the index lacks
    phantoms: list[int] = field(default_factory=list)  # documents of entries that are gone
    stale: list[int] = field(default_factory=list)  # documents out of date
    duplicates: list[int] = field(default_factory=list)  # entries indexed more than once
    misplaced: list[int] = field(default_factory=list)  # e.g. a draft in the public index
    pending: int = 0  # change-log rows not applied yet
    damage: list[str] = field(default_factory=list)  # files that are garbled or unreadable
    behind: bool = False  # the log was pruned past what this index applied

    @property
    def clean(self) -> bool:
        return not (
            self.missing or self.phantoms or self.stale or self.duplicates or self.misplaced
            or self.pending or self.damage or self.behind
        )  # fmt: skip


def check(index: SearchIndex) -> Drift:
    """Compare every document of the live folder with what the database says it should be."""
    folder = live_folder(index.root)
    with index.engine.connect() as connection:
        expected = {
            int(d.fields["id"]): d for d in iter_documents(connection, all_entry_ids(connection))
        }
    if folder is None or not (folder / "public").is_dir():
        return Drift(missing=sorted(expected))
    damage = _damage(folder)
    if damage:
        return Drift(damage=damage)
    indexed: dict[int, list[tuple[str, str | None]]] = {}
    try:
        for place in index_dirs(folder):
            for fields in _stored(folder / place):
                indexed.setdefault(int(fields["id"]), []).append((place, fields.get("fingerprint")))
    except Exception as error:  # a file that reads as garbage is damage, whatever it raised
        return Drift(damage=[f"{type(error).__name__} while reading the index: {error}"])
    applied = sync.applied_mark(folder)
    return Drift(
        missing=sorted(set(expected) - set(indexed)),
        phantoms=sorted(set(indexed) - set(expected)),
        stale=sorted(
            i
            for i in set(expected) & set(indexed)
            if any(
                fingerprint != expected[i].fields["fingerprint"] for _p, fingerprint in indexed[i]
            )
        ),  # fmt: skip
        duplicates=sorted(i for i, copies in indexed.items() if len(copies) > 1),
        misplaced=sorted(
            i
            for i in set(expected) & set(indexed)
            if any(place != expected[i].place for place, _f in indexed[i])
        ),  # fmt: skip
        pending=index.pending(),
        behind=applied < sync.pruned_through(index.engine),
    )


def _damage(folder: Path) -> list[str]:
    found = []
    if read_state(folder).get("schema") != SCHEMA_VERSION:
        found.append("the index was built by another version of Span (or its state file is lost)")
    try:
        Verifier().verify(folder, index_dirs(folder))
    except IndexDamaged as damage:
        found.append(str(damage))
    except OSError as error:
        found.append(f"{type(error).__name__}: {error}")
    return found


def _stored(path: Path):
    """Every live document's stored fields, counting each copy of a duplicated one."""
    reader = whoosh_index.open_dir(str(path)).reader()
    try:
        for docnum in range(reader.doc_count_all()):
            if not reader.is_deleted(docnum):
                yield reader.stored_fields(docnum)
    finally:
        reader.close()
