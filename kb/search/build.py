"""Building a replica's index from scratch, in a new folder swapped in atomically."""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from whoosh import index as whoosh_index

from kb.search import integrity
from kb.search.documents import all_entry_ids, iter_documents
from kb.search.folders import PUBLIC, new_folder, remove_old, swap
from kb.search.schema import build_schema
from kb.search.sync import latest_change, write_mark


@dataclass(frozen=True)
class RebuildReport:
    documents: int
    seconds: float
    folder: Path


def build(root: Path, engine: Engine, *, procs: int = 1, limitmb: int = 128) -> RebuildReport:
    """Index every entry into a new folder, then make it the live one. The caller holds the
    replica's rebuild lock; searches keep being answered from the old folder meanwhile."""
    started = time.perf_counter()
    folder = new_folder(root)
    # Read the log's high-water mark before the entries: anything committed later has a
    # higher id, so the catch-up after the swap re-reads it.
    applied = latest_change(engine)
    drafts: dict[str, list[dict]] = defaultdict(list)  # a few per organisation: kept in memory
    count = 0
    writer = _writer(folder / PUBLIC, procs, limitmb)
    try:
        with engine.connect() as connection:
            for document in iter_documents(connection, all_entry_ids(connection)):
                if document.place == PUBLIC:
                    writer.add_document(**document.fields)
                else:
                    drafts[document.place].append(document.fields)
                count += 1
        writer.commit()
        for place, documents in drafts.items():
            # One small writer at a time, so memory does not grow with the organisations.
            drafts_writer = _writer(folder / place, 1, 16)
            for fields in documents:
                drafts_writer.add_document(**fields)
            drafts_writer.commit()
        integrity.record(folder)
        write_mark(folder, applied)
    except BaseException:
        if not getattr(writer, "is_closed", True):
            writer.cancel()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    previous = swap(root, folder)
    remove_old(root, keep={folder, previous})
    return RebuildReport(count, time.perf_counter() - started, folder)


def _writer(path: Path, procs: int, limitmb: int):
    path.mkdir(parents=True, exist_ok=True)
    index = whoosh_index.create_in(str(path), build_schema())
    options: dict = {"limitmb": limitmb, "compound": False}
    if procs > 1:
        options |= {"procs": procs, "multisegment": True}
    return index.writer(**options)
