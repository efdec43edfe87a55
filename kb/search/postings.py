"""Which documents match a query, worked out from postings kept per segment.

A segment never changes once written, except that documents in it get deleted. So the
documents holding a term in a segment are read once and kept, keyed by the segment's id; a
query's matches are unions, intersections and differences of those sets; and each segment's
deletions, which only ever grow, are taken afresh from the reader being searched. A save
then costs reading its own small segment, and a merge only new sets for the merged one.

Sets are bitsets (Python ints, bit n for document n): a term in a 10,000-document segment
takes 1.25 KB, a facet count is one AND and a bit count.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from functools import reduce
from itertools import compress

from whoosh import query as Q
from whoosh.codec.whoosh3 import W3LeafMatcher

from kb.search.schema import MATCHED_ONLY

# What the per-segment results of one process (bitsets, postings, scores) may hold, in bytes;
# the least recently used go first. Enough for every term of a few hundred queries at 50,000
# entries.
CACHE_BYTES = 48 * 2**20


class SegmentCache:
    """Results worked out from one segment, shared by every searcher of a process, bounded by
    size. Two threads may work out the same result at once; both get the same answer."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit = limit
        self.size = 0
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()  # key -> (value, size)

    def get(self, key):
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key, value, size: int) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (value, size)
            self.size += size
            while self.size > self.limit and len(self._items) > 1:
                _key, (_value, dropped) = self._items.popitem(last=False)
                self.size -= dropped

    def keep_only(self, segment_ids: set[str]) -> None:
        """Forget every result about segments not in ``segment_ids`` (merged away)."""
        with self._lock:
            for key in [k for k in self._items if k[0] not in segment_ids]:
                self.size -= self._items.pop(key)[1]

    def __len__(self) -> int:
        return len(self._items)


# A byte per document, as binary digits and back: Python reads and writes those in bulk.
_AS_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
_AS_FLAGS = bytes.maketrans(b"01", b"\x00\x01")


def to_bits(docnums: Iterable[int]) -> int:
    """A bitset of ``docnums``: a byte set per document, then read as one binary number,
    a fifth of the time of setting bits one by one."""
    flags = bytearray()
    for docnum in docnums:
        if docnum >= len(flags):
            flags.extend(bytes(max(docnum + 1, 2 * len(flags)) - len(flags)))
        flags[docnum] = 1
    return int(flags.translate(_AS_DIGITS)[::-1], 2) if flags else 0


def members(bits: int) -> list[int]:
    """The document numbers in ``bits``, in order."""
    digits = bin(bits)[:1:-1]  # least significant bit first, without "0b"
    if bits.bit_count() * 8 > len(digits):  # many: a byte per document, picked out in bulk
        flags = digits.encode("ascii").translate(_AS_FLAGS)
        return list(compress(range(len(flags)), flags))
    found, position = [], digits.find("1")
    while position != -1:
        found.append(position)
        position = digits.find("1", position + 1)
    return found


def term_postings(
    cache: SegmentCache, reader, field: str, text, keep: bool = True
) -> tuple[array, array]:
    """(document numbers, weights) of a term in one segment, deleted documents possibly
    included; read a block at a time, as Whoosh keeps them, where it can. Kept unless
    ``keep`` is False (a term only matched, never scored)."""
    key = (segment_id(reader), "postings", field, text)
    found = cache.get(key)
    if found is None:
        ids, weights = array("I"), array("d")
        if (field, text) in reader:
            matcher = reader.postings(field, text)
            if isinstance(matcher, W3LeafMatcher):
                # The pinned Whoosh's own codec: each block's ids and weights come at once
                # (a test compares them with reading a posting at a time).
                while matcher.is_active():
                    matcher._read_ids()
                    matcher._read_weights()
                    ids.extend(matcher._ids)
                    weights.extend(iter(matcher._weights))  # single precision, widened
                    matcher._next_block()
            else:
                while matcher.is_active():
                    ids.append(matcher.id())
                    weights.append(matcher.weight())
                    matcher.next()
        found = (ids, weights)
        if keep:
            cache.put(key, found, 64 + 12 * len(ids))
    return found


def subsearchers(searcher) -> list[tuple]:
    """(searcher of one segment, its first document number) for each segment searched."""
    return searcher.subsearchers or [(searcher, 0)]


def shown(cache: SegmentCache, searcher, docnum: int, body_chars: int) -> tuple:
    """What a results page shows of document ``docnum``: (entry id, title, the first
    ``body_chars`` of its body, reuse count), from its stored fields, kept per segment (they
    never change; reading them unpickles the whole body)."""
    sub, offset = next((s, o) for s, o in reversed(subsearchers(searcher)) if docnum >= o)
    reader, number = sub.reader(), docnum - offset
    key = (segment_id(reader), "shown", number)
    found = cache.get(key)
    if found is None:
        fields = reader.stored_fields(number)
        body = fields.get("body", "")[:body_chars]
        title = fields.get("title", "")
        found = (int(fields["id"]), title, body, fields.get("borrow_count") or 0)
        cache.put(key, found, 64 + len(title) + len(body))
    return found


def segment_id(reader) -> str:
    return reader.segment().segment_id()


def matching(cache: SegmentCache, searcher, query: Q.Query) -> int:
    """The live documents ``searcher`` would find for ``query``, as a bitset."""
    found = 0
    for sub, offset in subsearchers(searcher):
        reader = sub.reader()
        if not reader.doc_count_all():
            continue  # an empty index has no segment
        local = segment_matches(cache, sub, reader, segment_id(reader), query)
        if local:
            found |= (local & ~deleted(cache, reader)) << offset
    return found


def deleted(cache: SegmentCache, reader) -> int:
    """The documents deleted from one segment, as this reader sees it."""
    segment = reader.segment()
    count = segment.deleted_count()
    if not count:
        return 0
    key = (segment.segment_id(), "deleted", count)  # deletions only grow: the count says which
    found = cache.get(key)
    if found is None:
        found = to_bits(segment.deleted_docs())
        cache.put(key, found, _size(found))
    return found


def segment_matches(cache: SegmentCache, sub, reader, segment: str, query: Q.Query) -> int:
    """Documents of one segment matching ``query``, deleted ones possibly included."""
    if isinstance(query, Q.Term):
        key = (segment, "term", query.fieldname, query.text)
        found = cache.get(key)
        if found is None:
            field = query.fieldname
            keep = field not in MATCHED_ONLY  # its bitset is kept; its postings are not needed
            ids, _weights = term_postings(cache, reader, field, query.text, keep)
            found = to_bits(ids)
            cache.put(key, found, _size(found))
        return found
    if isinstance(query, Q.And):
        parts = (segment_matches(cache, sub, reader, segment, q) for q in query.subqueries)
        return reduce(lambda a, b: a & b if a else 0, parts)
    if isinstance(query, Q.Or):
        parts = (segment_matches(cache, sub, reader, segment, q) for q in query.subqueries)
        return reduce(int.__or__, parts, 0)
    if isinstance(query, Q.AndNot):
        kept = segment_matches(cache, sub, reader, segment, query.a)
        return kept & ~segment_matches(cache, sub, reader, segment, query.b) if kept else 0
    if isinstance(query, Q.ConstantScoreQuery):
        return segment_matches(cache, sub, reader, segment, query.child)
    if isinstance(query, Q.Every):
        return (1 << reader.doc_count_all()) - 1
    if query is Q.NullQuery or isinstance(query, Q.NullQuery.__class__):
        return 0
    # Phrases and anything else: Whoosh's own matcher, kept like a term's postings.
    key = (segment, "query", query)
    found = cache.get(key)
    if found is None:
        found = to_bits(query.docs(sub))
        cache.put(key, found, _size(found))
    return found


def _size(bits: int) -> int:
    return 64 + bits.bit_length() // 8
