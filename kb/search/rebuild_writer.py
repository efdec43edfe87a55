"""Whoosh's segment writer for a rebuild: the same postings as Whoosh's own writer, collected
differently. Whoosh keeps every posting as a tuple of five objects, sorts them all at the end,
and past its memory limit pickles them to disk and back; here each term's postings go into
compact arrays, already in document order, and the caller ends a segment when the pool of
memory is full instead of spilling.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3PostingsWriter
from whoosh.writing import SegmentWriter


class RebuildWriter(SegmentWriter):
    """Whoosh's segment writer with ``Postings`` for its pool, and field lengths read from
    disk once per field instead of once per posting while the postings are written."""

    def __init__(self, index: whoosh_index.FileIndex, limitmb: int):
        super().__init__(index, compound=False)
        self.pool = Postings()
        self.limit = limitmb * 2**20
        # Term vectors and separate spelling words take Whoosh's own path (the index has none).
        self._plain = not any(f.vector or f.separate_spelling() for _, f in self.schema.items())

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
