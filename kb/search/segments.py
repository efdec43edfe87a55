"""Merging an index's small segments while saves go on.

Most of a merge is reading its segments and writing one new segment with their documents.
That needs no lock: a segment's files never change once written; only which of its documents
are deleted does, and that is recorded in the table of contents. So a merge has three steps:

- ``plan``: the segments to merge, and which of their documents were deleted then;
- ``build``: write the merged segment into a scratch folder of its own, holding no lock (a
  save's commit deletes every segment file its table of contents does not name);
- ``swap``: under the apply lock, check that every merged segment is still listed (else
  another merge took them: the work is dropped), delete from the new segment the documents
  deleted from the old ones meanwhile (a save replacing an entry deletes its old document),
  move the files in and commit a table of contents naming the new segment instead.

A save therefore waits for the swap at most (a few renames and a small file), never for the
whole merge.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, EmptyIndexError
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

# A save never merges segments (it would make that save wait): each save adds one, and once
# the public index has more than this many, a merge in the background folds the smallest
# together. Every search reads every segment, so they are kept few.
MERGE_ABOVE_SEGMENTS = 3
# Segments merged together are within this factor of the smallest one's size, so an entry is
# rewritten about log4(entries) times over its life, not at every save.
MERGE_SIZE_FACTOR = 4
# A background merge rewrites at most this many entries (about a second per hundred; saves go
# on meanwhile, and wait only for the swap). Larger: ``kb optimize``.
MERGE_AT_MOST = 200
SCRATCH_PREFIX = "merging-"
SCRATCH_KEPT_FOR = 3600.0  # seconds before a scratch folder left by a dead process is removed
TOC_ATTEMPTS = 50  # reads of the newest table of contents while commits keep replacing it


@dataclass
class Plan:
    schema: object
    segments: list  # the segments to merge, as the table of contents listed them
    deleted: dict[str, frozenset[int]]  # segment id -> its documents deleted at planning


@dataclass
class Built:
    plan: Plan
    segment: object  # the merged segment; its files are in ``scratch`` until the swap
    scratch: Path
    # (old segment id, document number there) -> document number in the merged segment
    numbers: dict[tuple[str, int], int] = field(default_factory=dict)


def read_toc(index_dir: Path):
    """The newest table of contents of the index in ``index_dir``, or None if there is none
    (the folder was removed after a rebuild, or never held an index).

    Whoosh lists the folder for the newest one, then opens it: a commit in between replaces
    that file, so the listing is taken again."""
    for _attempt in range(TOC_ATTEMPTS):
        try:
            return whoosh_index.open_dir(str(index_dir))._read_toc()
        except EmptyIndexError:
            break
        except FileNotFoundError:
            if not index_dir.is_dir():
                break
            time.sleep(0.001)  # let the commit that replaced it finish
    return None


def smallest(segments: list) -> list:
    """The segments to merge: from the smallest up, the first run of at least two within
    ``MERGE_SIZE_FACTOR`` of the run's smallest, up to ``MERGE_AT_MOST`` entries in all; or
    none. Like sizes merge into the next size up, so segments stay few over many saves."""
    ordered = sorted(segments, key=lambda segment: segment.doc_count_all())
    for start, first in enumerate(ordered):
        bound = MERGE_SIZE_FACTOR * max(1, first.doc_count_all())
        run, total = [], 0
        for segment in ordered[start:]:
            size = segment.doc_count_all()
            if size > bound or total + size > MERGE_AT_MOST:
                break
            run.append(segment)
            total += size
        if len(run) >= 2:
            return run
    return []


def plan(index_dir: Path) -> Plan | None:
    """What to merge in ``index_dir`` now, or None if it has few enough segments."""
    toc = read_toc(index_dir)
    if toc is None or len(toc.segments) <= MERGE_ABOVE_SEGMENTS:
        return None
    chosen = smallest(toc.segments)
    if len(chosen) < 2:
        return None
    deleted = {s.segment_id(): frozenset(s.deleted_docs()) for s in chosen}
    return Plan(toc.schema, chosen, deleted)


class _Scratch:
    """What Whoosh's segment writer needs of an index: a folder to write a segment in."""

    def __init__(self, storage, indexname: str, schema) -> None:
        self.storage, self.indexname, self._schema = storage, indexname, schema

    def _read_toc(self):
        return TOC(self._schema, [], 0)


def build(index_dir: Path, plan: Plan) -> Built:
    """Write the merged segment of ``plan`` into a scratch folder under ``index_dir``. Holds
    no lock: a segment merged away meanwhile fails this (or is caught by the swap)."""
    remove_stale_scratch(index_dir)
    scratch = index_dir / f"{SCRATCH_PREFIX}{uuid.uuid4().hex}"
    storage = FileStorage(str(scratch)).create()
    source = FileStorage(str(index_dir))
    writer = SegmentWriter(
        _Scratch(storage, whoosh_index._DEF_INDEX_NAME, plan.schema), _lk=False, compound=False
    )
    numbers: dict[tuple[str, int], int] = {}
    try:
        for segment in plan.segments:
            reader = SegmentReader(source, plan.schema, segment)
            try:
                # Whoosh copies the live documents in this order, numbering them from 0.
                for docnum in reader.all_doc_ids():
                    numbers[(segment.segment_id(), docnum)] = len(numbers)
                writer.add_reader(reader)
            finally:
                reader.close()
        merged = writer._finalize_segment()
        writer._finish()
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Built(plan, merged, scratch, numbers)


def swap(index_dir: Path, built: Built, timeout: float) -> bool:
    """Put the merged segment in place of the segments it holds. The caller holds the apply
    lock. Returns False (and drops the work) if one of them is gone: another merge took it."""
    try:
        index = whoosh_index.open_dir(str(index_dir))
        writer = index.writer(timeout=timeout, compound=False)  # reads the newest contents
        try:
            listed = {segment.segment_id(): segment for segment in writer.segments}
            merged = [segment.segment_id() for segment in built.plan.segments]
            if any(name not in listed for name in merged):
                writer.cancel()
                return False
            for name in merged:
                for docnum in set(listed[name].deleted_docs()) - built.plan.deleted[name]:
                    built.segment.delete_document(built.numbers[(name, docnum)])
            for path in built.scratch.iterdir():
                if path.is_file():
                    os.replace(path, index_dir / path.name)
            gone = set(merged)

            def keep_others(_writer, segments: list) -> list:
                return [s for s in segments if s.segment_id() not in gone] + [built.segment]

            writer.commit(mergetype=keep_others)
        except BaseException:
            if not writer.is_closed:
                writer.cancel()
            raise
    finally:
        discard(built)
    return True


def discard(built: Built) -> None:
    """Remove the scratch folder (after the swap, only the writer's empty temporary files)."""
    shutil.rmtree(built.scratch, ignore_errors=True)


def remove_stale_scratch(index_dir: Path) -> None:
    """Remove scratch folders a merge left behind when its process died."""
    limit = time.time() - SCRATCH_KEPT_FOR
    for folder in index_dir.glob(f"{SCRATCH_PREFIX}*"):
        try:
            if folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
