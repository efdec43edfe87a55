"""Searchers, one per request at a time.

Whoosh's readers keep a file position per open file, so one searcher read by two threads at
once answers garbage (wrong terms, failed seeks, "0 results"). Each ``reading()`` therefore
takes a searcher no other thread is using: an idle one from a small pool if it is of the
index's current generation, or a freshly opened one (the index is written with
``compound=False``, so opening costs a directory listing and a few small files).

What is worked out from a generation (keyword postings, merged across segments) is immutable
and shared by every searcher of that generation; per-segment results (``postings.py``) are
shared across generations, since segments never change.

A scope is what one reader may search: the public index alone, or the public index together
with one organisation's drafts (``drafts_of``), read as one index so that ranking statistics
and spelling suggestions come from exactly what that reader may see.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.reading import EmptyReader, IndexReader, MultiReader, SegmentReader
from whoosh.searching import Searcher

from kb.search.folders import DRAFTS, PUBLIC, drafts_dir, has_index, public_dir
from kb.search.integrity import Verifier
from kb.search.postings import SegmentCache
from kb.search.ranking import ReuseWeighting
from kb.search.schema import SORTABLE_FIELDS, build_schema

# Idle searchers kept open, each holding a dozen or so files per segment: enough for the
# public scope to serve a few threads without reopening, and one per recent member scope.
IDLE_PUBLIC = 4
IDLE_PER_MEMBER_SCOPE = 1
MEMBER_SCOPES_KEPT = 8


@dataclass(frozen=True)
class Snapshot:
    """One searcher, used by one thread, and what is shared about its generation."""

    searcher: Searcher
    folder: Path
    generation: tuple  # (folder name, public generation, organisation id, drafts generation)
    segments: SegmentCache  # per-segment results, shared by every generation of the process
    cache: dict  # per-generation results, shared by every searcher of this generation


class Readers:
    """The searchers of one process, for every scope of the live folder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._indexes: dict[Path, whoosh_index.FileIndex] = {}
        self._idle: dict[tuple, list[tuple[tuple, Searcher]]] = {}  # scope -> idle searchers
        self._caches: dict[tuple, dict] = {}  # generation -> shared cache
        self._folder: Path | None = None  # the live folder, as last seen
        # Results per segment (term postings, keyword values), least recently used let go.
        self.segments = SegmentCache()
        self.verifier = Verifier()
        self._schema = build_schema()

    def _index(self, path: Path) -> whoosh_index.FileIndex | None:
        found = self._indexes.get(path)
        if found is None and has_index(path):
            found = whoosh_index.open_dir(str(path), schema=self._schema)
            with self._lock:
                self._indexes[path] = found
        return found

    def generation(self, folder: Path, drafts_of: int | None) -> tuple:
        """The generation a scope would read now (a directory listing per index)."""
        public = self._index(public_dir(folder))
        if public is None:
            raise FileNotFoundError(f"no public index in {folder.name}")
        drafts = self._index(drafts_dir(folder, drafts_of)) if drafts_of is not None else None
        return (
            folder.name,
            public.latest_generation(),
            drafts_of if drafts else None,
            drafts.latest_generation() if drafts else None,
        )

    @contextmanager
    def reading(self, folder: Path, drafts_of: int | None = None) -> Iterator[Snapshot]:
        """A searcher of the scope's current generation, for this thread alone."""
        relatives = [PUBLIC] + ([f"{DRAFTS}/{drafts_of}"] if drafts_of is not None else [])
        if folder != self._folder:
            previous, self._folder = self._folder, folder
            if previous is not None:
                self.forget(previous)  # a rebuild swapped folders: the old one is let go
        self.verifier.verify(folder, relatives)
        scope = (folder, drafts_of)
        wanted = self.generation(folder, drafts_of)
        searcher, stale = self._take(scope, wanted)
        if searcher is None:
            searcher, wanted = self._open(folder, drafts_of, stale)
        else:
            for old in stale:
                old.close()
        with self._lock:
            cache = self._caches.get(wanted)
            if cache is None:
                # Only the newest generation of each scope is worth keeping results for.
                for older in [k for k in self._caches if (k[0], k[2]) == (wanted[0], wanted[2])]:
                    del self._caches[older]
                cache = self._caches[wanted] = {}
        try:
            yield Snapshot(searcher, folder, wanted, self.segments, cache)
        except BaseException:
            searcher.close()  # it may have been left mid-read; never hand it out again
            raise
        else:
            self._give_back(scope, wanted, searcher)

    def _take(self, scope: tuple, wanted: tuple) -> tuple[Searcher | None, list[Searcher]]:
        """An idle searcher of the generation ``wanted``, if there is one, and the idle
        searchers of older generations, taken out of the pool (the caller closes them)."""
        with self._lock:
            idle = self._idle.get(scope, [])
            stale = [s for generation, s in idle if generation != wanted]
            fresh = [(g, s) for g, s in idle if g == wanted]
            self._idle[scope] = fresh
            taken = fresh.pop()[1] if fresh else None
        return taken, stale

    def _give_back(self, scope: tuple, generation: tuple, searcher: Searcher) -> None:
        closing: list[Searcher] = []
        with self._lock:
            idle = self._idle.setdefault(scope, [])
            limit = IDLE_PUBLIC if scope[1] is None else IDLE_PER_MEMBER_SCOPE
            keep = (
                scope[0] == self._folder
                and len(idle) < limit
                and all(g == generation for g, _s in idle)
            )
            if keep:
                idle.append((generation, searcher))
                members = [k for k in self._idle if k[1] is not None and self._idle[k]]
                if len(members) > MEMBER_SCOPES_KEPT:
                    closing = [s for _g, s in self._idle.pop(members[0])]
        if not keep:
            searcher.close()
        for other in closing:
            other.close()

    def _open(
        self, folder: Path, drafts_of: int | None, stale: list[Searcher]
    ) -> tuple[Searcher, tuple]:
        """A new searcher with every file it reads later already open. Whoosh opens some
        files lazily; once a merge deletes them, a searcher that had not opened them yet
        fails. Open files stay readable after deletion, so open them now, and if a merge won
        the race, even for one file, start again on the merged index.

        The public index's segments still listed are taken over from ``stale`` (idle
        searchers of an older generation, which are closed): after a save, only its new
        segment is opened."""
        reusable = _leaves_by_segment(stale) if drafts_of is None else {}
        try:
            return self._open_with(folder, drafts_of, reusable)
        finally:
            for leaf in reusable.values():
                leaf.close()
            for old in stale if drafts_of is not None else ():
                old.close()

    def _open_with(self, folder: Path, drafts_of: int | None, reusable: dict) -> tuple:
        for attempt in range(5):
            readers, indexes = [], []
            try:
                generation = [folder.name, None, None, None]
                indexes.append(self._index(public_dir(folder)))
                public = _open_reader(indexes[0], self._schema, reusable)
                readers.append(public)
                generation[1] = public.generation()
                if drafts_of is not None and (drafts := self._index(drafts_dir(folder, drafts_of))):
                    indexes.append(drafts)
                    readers.append(_open_reader(drafts, self._schema))
                    generation[2:] = [drafts_of, readers[-1].generation()]
                leaves = [
                    leaf for r in readers for leaf, _o in r.leaf_readers() if leaf.doc_count_all()
                ]
                reader = readers[0] if len(readers) == 1 else MultiReader(leaves)
                searcher = Searcher(reader, weighting=ReuseWeighting())
                _open_files(leaves)
                for index, opened in zip(indexes, readers, strict=True):
                    _check_still_listed(index, opened)
                return searcher, tuple(generation)
            except (OSError, TypeError):
                for reader in readers:
                    reader.close()
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every idle searcher (searchers in use close as their readers finish)."""
        with self._lock:
            closing = [s for idle in self._idle.values() for _g, s in idle]
            self._idle.clear()
            self._caches.clear()
            self._indexes.clear()
        for searcher in closing:
            searcher.close()

    def forget(self, folder: Path) -> None:
        """Let go of everything about ``folder`` (replaced by a rebuild, or damaged)."""
        with self._lock:
            scopes = [scope for scope in self._idle if scope[0] == folder]
            closing = [s for scope in scopes for _g, s in self._idle.pop(scope)]
            for key in [k for k in self._caches if k[0] == folder.name]:
                del self._caches[key]
            for path in [p for p in self._indexes if folder in p.parents]:
                del self._indexes[path]
        for searcher in closing:
            searcher.close()
        self.verifier.forget(folder)


def _open_reader(
    index: whoosh_index.FileIndex, schema, reusable: dict | None = None
) -> IndexReader:
    """``index.reader()``, except that when a merge deletes a segment between reading the
    table of contents and opening it, the segments already opened are closed (Whoosh's own
    retry leaves their files for the garbage collector), and so are the files of the segment
    being opened, and the error is the caller's to retry. A segment in ``reusable`` (open
    readers by segment id, nobody else's) is taken from there instead of opened again."""
    toc = whoosh_index.TOC.read(index.storage, index.indexname, schema=schema)
    readers: list[SegmentReader] = []
    try:
        for segment in toc.segments:
            if reusable and (reader := reusable.pop(segment.segment_id(), None)):
                readers.append(_renewed(reader, segment, toc.generation))
                continue
            storage = _Opening(index.storage)
            try:
                readers.append(
                    SegmentReader(storage, toc.schema, segment, generation=toc.generation)
                )
            except BaseException:
                storage.close_opened()
                raise
            storage.opened = None
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    if not readers:
        return EmptyReader(toc.schema)
    if len(readers) == 1:
        return readers[0]
    return MultiReader(readers, generation=toc.generation)


def _leaves_by_segment(searchers: list[Searcher]) -> dict[str, SegmentReader]:
    """The open segment readers of ``searchers`` (idle, no longer pooled), by segment id."""
    found: dict[str, SegmentReader] = {}
    for searcher in searchers:
        for leaf, _offset in searcher.reader().leaf_readers():
            if isinstance(leaf, SegmentReader) and not leaf.is_closed:
                previous = found.setdefault(leaf.segment().segment_id(), leaf)
                if previous is not leaf:
                    leaf.close()  # another idle searcher's reader of the same segment
    return found


def _renewed(reader: SegmentReader, segment, generation: int) -> SegmentReader:
    """``reader``, reading ``segment`` as a newer table of contents lists it. A segment's
    files never change; only which of its documents are deleted, which the listing's segment
    object carries, and which the reader and its per-document reader look up there."""
    reader._segment = segment
    reader._perdoc._segment = segment
    reader.__dict__.pop("deleted_docs_set", None)  # Whoosh keeps the set it first read
    reader._gen = generation
    return reader


class _Opening:
    """The index's storage, remembering the files a segment reader opens while it is being
    made: Whoosh opens its terms file, then its postings file, and when a merge deleted the
    second in between, the first is left open with no reader to close it."""

    def __init__(self, storage) -> None:
        self.storage = storage
        self.opened: list | None = []  # None once the reader is made

    def open_file(self, name: str, *args, **kwargs):
        opened = self.storage.open_file(name, *args, **kwargs)
        if self.opened is not None:
            self.opened.append(opened)
        return opened

    def close_opened(self) -> None:
        for opened in self.opened or ():
            opened.close()

    def __getattr__(self, name: str):
        return getattr(self.storage, name)


def _check_still_listed(index: whoosh_index.FileIndex, reader: IndexReader) -> None:
    """Raise ``FileNotFoundError`` unless every segment ``reader`` opened is still in the
    index's newest table of contents, i.e. no merge can have deleted its files while they were
    being opened (a merge deletes them only after writing a table of contents without them).

    Whoosh takes a file that is missing for one the segment never had: a segment whose
    stored fields were opened just before a merge deleted the rest would read every reuse
    count as the column's default (-2**31 once decoded) and every field length as zero, for as
    long as the searcher lives."""
    if index.latest_generation() == reader.generation():
        return
    listed = {segment.segment_id() for segment in index._segments()}
    for leaf, _offset in reader.leaf_readers():
        if leaf.doc_count_all() and leaf.segment().segment_id() not in listed:
            raise FileNotFoundError(f"segment {leaf.segment().segment_id()} was merged away")


def _open_files(leaves) -> None:
    """Open every per-document file a search may read, and pin which columns exist.

    Whoosh decides whether a segment has a column by looking for its file on every read; once
    a merge deleted the file, it would silently read every value as the default (a "most
    borrowed" sort of zeros). Answering from the files opened here keeps the searcher reading
    the generation it was opened on."""
    for leaf in leaves:
        leaf.stored_fields(0)
        for name in leaf.schema.scorable_names():
            leaf.doc_field_length(0, name)
        for name in SORTABLE_FIELDS:
            leaf.column_reader(name)
        per_document = leaf._perdoc
        per_document.has_column = frozenset(per_document._colfiles).__contains__
