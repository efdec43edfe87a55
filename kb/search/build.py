"""Building a replica's index from scratch, in a new folder swapped in atomically.

A rebuild writes the same postings as Whoosh's own writer, collected differently: Whoosh keeps
every posting as a tuple of five objects, sorts them all at the end, and past its memory limit
pickles them to disk and back; here each term's postings go into compact arrays, already in
document order, and a full pool of memory ends a segment instead of spilling.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import resource
import shutil
import sys
import time
from array import array
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3PostingsWriter
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from kb.search import integrity
from kb.search.documents import all_entry_ids, iter_documents
from kb.search.folders import PUBLIC, new_folder, remove_old, swap
from kb.search.schema import build_schema
from kb.search.sync import latest_change, write_mark

# Postings a rebuild process holds before they become a segment of their own, whatever larger
# pool a caller asks for (Whoosh's 512 MB pool, which holds about 1.3 times what it counts):
# with the rest of the process, under 300 MB.
POOL_MB_AT_MOST = 160
PARALLEL_FROM = 2_000  # entries; below this a second process costs more than it saves
HELPER = "helper"  # the second process's folder, inside the new one while it is built


@dataclass(frozen=True)
class RebuildReport:
    documents: int
    seconds: float
    folder: Path
    segments: int = 1
    peak_mb: float | None = None  # the largest resident size of this process so far


def build(root: Path, engine: Engine, *, procs: int = 1, limitmb: int = 128) -> RebuildReport:
    """Index every entry into a new folder, then make it the live one. The caller holds the
    replica's rebuild lock; searches keep being answered from the old folder meanwhile.

    With ``procs`` above 1 and enough entries, a second process indexes the later half of the
    entries at the same time. ``limitmb`` bounds each process's memory for postings: when it
    is full, the postings so far become a segment of their own."""
    started = time.perf_counter()
    limitmb = min(limitmb, POOL_MB_AT_MOST)
    folder = new_folder(root)
    # Read the log's high-water mark before the entries: anything committed later has a
    # higher id, so the catch-up after the swap re-reads it.
    applied = latest_change(engine)
    drafts: dict[str, list[int]] = defaultdict(list)  # each drafts index's entries
    helper = writer = None
    try:
        public = _open(folder / PUBLIC)
        with engine.connect() as connection:
            ids = all_entry_ids(connection)
            if procs > 1 and len(ids) >= PARALLEL_FROM and _shareable(engine):
                ids, later = ids[: len(ids) // 2], ids[len(ids) // 2 :]
                helper = Helper(engine, folder / HELPER, later, limitmb)
            writer, count = index_entries(connection, public, ids, limitmb, drafts)
        if helper is not None:
            # Its segments follow ours, so documents keep the entries' order.
            writer.also, their_drafts, their_count = helper.finish(folder / PUBLIC)
            for place, entry_ids in their_drafts.items():
                drafts[place].extend(entry_ids)
            count += their_count
        writer.commit(merge=False)
        with engine.connect() as connection:
            index_drafts(connection, folder, drafts)
        integrity.record(folder)
        write_mark(folder, applied)
    except BaseException:
        if helper is not None:
            helper.stop()
        if writer is not None and not writer.is_closed:
            writer.cancel()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    previous = swap(root, folder)
    remove_old(root, keep={folder, previous})
    seconds = time.perf_counter() - started
    return RebuildReport(count, seconds, folder, len(public._segments()), peak_memory_mb())


def index_entries(
    connection, index: whoosh_index.FileIndex, ids: list[int], limitmb: int, drafts: dict
) -> tuple[RebuildWriter, int]:
    """Index the public documents of ``ids`` into ``index``, committing a segment whenever
    the writer's memory is full, and list drafts in ``drafts`` by the index they belong in.
    Returns the last writer, not committed yet, and how many entries were read."""
    count, writer = 0, RebuildWriter(index, limitmb)
    try:
        for document in iter_documents(connection, ids):
            if document.place == PUBLIC:
                writer.add_document(**document.fields)
                if writer.full():
                    writer.commit(merge=False)  # a segment of its own; memory freed
                    writer = RebuildWriter(index, limitmb)
            else:
                drafts[document.place].append(int(document.fields["id"]))
            count += 1
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    return writer, count


def index_drafts(connection, folder: Path, drafts: dict[str, list[int]]) -> None:
    """Index each organisation's drafts into its own index, one small writer at a time, read
    again from the database so that memory does not grow with them. An entry that changed
    index since (published, moved) is left to the catch-up after the swap, which re-reads
    everything committed after the rebuild began."""
    done: set[str] = set()
    writer = place = None
    ids = [entry_id for entry_ids in drafts.values() for entry_id in entry_ids]
    for document in iter_documents(connection, ids):
        if document.place != place:
            if writer is not None:
                writer.commit()
                done.add(place)
                writer = None
            place = document.place
            if place == PUBLIC or place in done:
                continue
            writer = RebuildWriter(_open(folder / place), 16)
        if writer is not None:
            writer.add_document(**document.fields)
    if writer is not None:
        writer.commit()


class Helper:
    """A second process indexing some of the entries into an index of its own, whose
    segments then move into the public index. Started afresh (not forked), with its own
    database connection, so it shares no state with the process that started it."""

    def __init__(self, engine: Engine, folder: Path, ids: list[int], limitmb: int):
        context = multiprocessing.get_context("spawn")
        self.folder, self.results = folder, context.Queue()
        url = engine.url.render_as_string(hide_password=False)
        self.process = context.Process(
            target=_help, args=(url, str(folder), ids, limitmb, self.results), daemon=True
        )
        self.process.start()

    def finish(self, public: Path) -> tuple[list, dict, int]:
        """Wait for the helper; move its segments' files into ``public``. Returns the
        segments, the drafts it found (entry ids by index) and how many entries it read."""
        while True:
            try:
                segments, drafts, count = self.results.get(timeout=1)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError("the second indexing process failed") from None
        self.process.join()
        helper = FileStorage(str(self.folder))
        for segment in segments:
            for name in segment.list_files(helper):
                os.replace(self.folder / name, public / name)
        shutil.rmtree(self.folder)
        return segments, drafts, count

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def _help(url: str, folder: str, ids: list[int], limitmb: int, results) -> None:
    """The helper process: index ``ids`` into a new index in ``folder``; report back."""
    engine = create_engine(url)
    try:
        drafts: dict[str, list[int]] = defaultdict(list)
        index = _open(Path(folder))
        with engine.connect() as connection:
            writer, count = index_entries(connection, index, ids, limitmb, drafts)
        writer.commit(merge=False)
        results.put((index._segments(), dict(drafts), count))
    finally:
        engine.dispose()


def _shareable(engine: Engine) -> bool:
    """Whether another process can open the same database (not an in-memory SQLite one)."""
    in_memory = engine.url.database in (None, "", ":memory:")
    return engine.url.get_backend_name() != "sqlite" or not in_memory


def peak_memory_mb() -> float:
    """The largest resident size this process (or an indexing process it waited for) has had."""
    scale = 2**20 if sys.platform == "darwin" else 2**10  # bytes on macOS, else kilobytes
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / scale


def _open(path: Path) -> whoosh_index.FileIndex:
    path.mkdir(parents=True, exist_ok=True)
    return whoosh_index.create_in(str(path), build_schema())


class RebuildWriter(SegmentWriter):
    """Whoosh's segment writer with ``Postings`` for its pool, and field lengths read from
    disk once per field instead of once per posting while the postings are written."""

    def __init__(self, index: whoosh_index.FileIndex, limitmb: int):
        super().__init__(index, compound=False)
        self.pool = Postings()
        self.limit = limitmb * 2**20
        # Term vectors and separate spelling words take Whoosh's own path (the index has none).
        self._plain = not any(f.vector or f.separate_spelling() for _, f in self.schema.items())
        self.also: list = []  # segments written elsewhere, listed after this writer's

    def _commit_toc(self, segments):
        super()._commit_toc([*segments, *self.also])

    def full(self) -> bool:
        return self.pool.size >= self.limit

    def add_document(self, **fields):
        """``SegmentWriter.add_document`` for documents without boosts or ``_stored_`` values,
        handing each field's postings to the pool in one call."""
        if not self._plain or any(name.startswith("_") for name in fields):
            return super().add_document(**fields)
        self._check_state()
        schema, perdocwriter, docnum = self.schema, self.perdocwriter, self.docnum
        names = sorted(fields)
        self._check_fields(schema, names)
        perdocwriter.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    length = self.pool.add_field(name, field.index(value), docnum, field.scorable)
                perdocwriter.add_field(name, field, value if field.stored else None, length)
                if field.column_type:
                    column_value = field.to_column_value(value)
                    perdocwriter.add_column_value(name, field.column_type, column_value)
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        try:
            cached = CachedLengths(lengths, lengths.doc_count_all())
            write_postings(self.fieldwriter, self.schema, cached, self.pool)
            self.fieldwriter.close()
        finally:
            lengths.close()


def write_postings(fieldwriter, schema, lengths: CachedLengths, pool: Postings) -> None:
    """What ``FieldWriter.add_postings`` does with the pool's postings, a block at a time
    instead of a posting at a time where the writer is Whoosh 3's (the one codec there is)."""
    for fieldname in sorted(pool.fields):
        terms = pool.fields.pop(fieldname)
        fieldwriter.start_field(fieldname, schema[fieldname])
        if type(fieldwriter._postwriter) is not W3PostingsWriter:
            for btext in sorted(terms):
                fieldwriter.start_term(btext)
                for docnum, weight, value in zip(*terms.pop(btext), strict=True):
                    length = lengths.doc_field_length(docnum, fieldname)
                    fieldwriter.add(docnum, weight, b"" if value is None else value, length)
                fieldwriter.finish_term()
            fieldwriter.finish_field()
            continue
        field_lengths = lengths.of(fieldname)
        for btext in sorted(terms):
            fieldwriter.start_term(btext)
            _add_block_by_block(fieldwriter._postwriter, *terms.pop(btext), field_lengths)
            fieldwriter.finish_term()
        fieldwriter.finish_field()


def _add_block_by_block(writer: W3PostingsWriter, docs, weights, values, lengths) -> None:
    """``W3PostingsWriter.add_posting`` for each posting, with the same blocks and statistics."""
    limit, done = writer._blocklimit, 0
    while done < len(docs):
        if len(writer._ids) >= limit:
            writer._write_block()
        room = limit - len(writer._ids)
        ids, block_weights = docs[done : done + room], weights[done : done + room]
        block_values = values[done : done + room]
        done += len(ids)
        writer._ids.extend(ids)
        writer._weights.fromlist(block_weights.tolist())
        writer._maxweight = max(writer._maxweight, max(block_weights))
        writer._values.extend(value for value in block_values if value)
        known = [length for length in map(lengths.__getitem__, ids) if length]
        if known:
            shortest = min(known)
            if writer._minlength is None or shortest < writer._minlength:
                writer._minlength = shortest
            writer._maxlength = max(writer._maxlength, max(known))


# What a posting costs here: a document number, a weight and a reference to its encoded
# positions (often shared), and each term's arrays and key in the pool's dictionaries; a little
# more than measured (10,000 entries: 4.4 million postings of 401,665 terms in 200 MB).
POSTING_BYTES, TERM_BYTES = 32, 300


class Postings:
    """A pool of postings for ``SegmentWriter``: for each field and term, its documents,
    weights and encoded values, appended in document order, so only the terms need sorting."""

    def __init__(self):
        self.fields: dict[str, dict[bytes, tuple[array, array, list]]] = {}
        self.size = 0  # bytes held, roughly

    @property
    def fieldnames(self) -> set[str]:
        return set(self.fields)

    def add_field(self, fieldname: str, items, docnum: int, scorable: bool) -> int:
        """Add a document's ``(term, frequency, weight, value)`` items for one field; returns
        the field's length in the document (0 unless ``scorable``)."""
        terms = self.fields.setdefault(fieldname, {})
        length = added = 0
        for btext, frequency, weight, value in items:
            length += frequency
            added += 1
            postings = terms.get(btext)
            if postings is None:
                postings = terms[btext] = (array("I"), array("d"), [])
                self.size += TERM_BYTES + len(btext)
            postings[0].append(docnum)
            postings[1].append(weight)
            postings[2].append(value)
        self.size += added * POSTING_BYTES
        return length if scorable else 0

    def add(self, item: tuple) -> None:
        fieldname, btext, docnum, weight, value = item
        self.add_field(fieldname, [(btext, 0, weight, value)], docnum, False)

    def iter_postings(self) -> Iterator[tuple]:
        """Every posting in Whoosh's order (field, term, document); each term's arrays are
        let go once written."""
        for fieldname in sorted(self.fields):
            terms = self.fields.pop(fieldname)
            for btext in sorted(terms):
                docs, weights, values = terms.pop(btext)
                for docnum, weight, value in zip(docs, weights, values, strict=True):
                    yield fieldname, btext, docnum, weight, value

    def cleanup(self) -> None:
        self.fields.clear()


class CachedLengths:
    """A per-document reader's ``doc_field_length``, each field's lengths read in one go."""

    def __init__(self, reader, documents: int):
        self._reader, self._documents = reader, documents
        self._fields: dict[str, list] = {}

    def of(self, fieldname: str) -> list:
        """Each document's length in ``fieldname`` (None where it is not there)."""
        try:
            return self._fields[fieldname]
        except KeyError:
            read = self._reader.doc_field_length
            lengths = [read(doc, fieldname, 0) for doc in range(self._documents)]
            self._fields[fieldname] = lengths
            return lengths

    def doc_field_length(self, docnum: int, fieldname: str, default=0):
        return self.of(fieldname)[docnum]
