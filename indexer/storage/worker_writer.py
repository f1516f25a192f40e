"""The writer of an indexing worker: one new segment, from documents already analysed.

Whoosh's ``SegmentWriter`` hands every posting to its pool one call at a time, and when
the segment is flushed hands them one at a time to the codec again: for passages of
seventy postings each, most of a worker's writing. This writer gives the pool a
document's terms field by field, as lists (``TermGroupedPool.add_list``; other fields'
postings with ``add_terms``), and the codec each term's list whole
(``PassageFieldWriter.add_term_lists``). The files are those Whoosh's
own writer makes of the same documents (``tests/test_posting_pool.py`` compares them).
"""

from __future__ import annotations

from whoosh.fields import FieldType
from whoosh.index import FileIndex
from whoosh.writing import SegmentWriter

from indexer.storage.codec import PassageCodec
from indexer.storage.posting_pool import TermGroupedPool
from indexer.storage.term_formats import TermFrequency, TermPositions

TEMP_PREFIX = "worker-"
# Formats whose postings the pool makes from a list of terms itself (``add_list``).
_LIST_FORMATS = (TermPositions, TermFrequency)


class WorkerWriter(SegmentWriter):
    """A writer of a new segment, without the lock, its postings grouped in memory.

    Whoosh 2.7.4 puts every writer's temporary files in one folder named after the index
    and deletes the folder when a writer finishes: parallel writers would delete each
    other's. This writer's folder is named after its segment (and does not start with
    the index name, which Whoosh would take for a segment file).
    """

    def __init__(self, ix: FileIndex, codec: PassageCodec, compound: bool = False) -> None:
        super().__init__(ix, _lk=False, compound=compound, codec=codec)
        name = f"{TEMP_PREFIX}{self.newsegment.segment_id()}.tmp"
        self._tempstorage = ix.storage.temp_storage(name)
        self.pool = TermGroupedPool()
        for name, field in self.schema.items():
            if field.separate_spelling() or field.vector:
                raise ValueError(f"field {name!r}: spelling words and vectors are not written")

    def add_document(self, **fields) -> None:
        """Whoosh's ``SegmentWriter.add_document``, each field's postings added at once."""
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)

        perdocwriter.start_doc(docnum)
        for fieldname in fieldnames:
            value = fields.get(fieldname)
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                boost = self._field_boost(fields, fieldname, docboost)
                if isinstance(value, list) and type(field.format) in _LIST_FORMATS:
                    # A list of terms, as analysis makes them: filed as it is.
                    length = self.pool.add_list(fieldname, docnum, value, field.format, boost)
                elif type(field).index is FieldType.index:
                    # What FieldType.index does, but for encoding each term to bytes:
                    # the pool does it as it files the term.
                    if not isinstance(value, (str, list, tuple)):
                        raise ValueError(f"{value!r} is not unicode or sequence")
                    items = field.format.word_values(value, field.analyzer, mode="index")
                    length = self.pool.add_terms(fieldname, docnum, items, boost)
                else:  # a field that makes its own terms (numbers, dates)
                    length = self.pool.add_terms(fieldname, docnum, field.index(value), boost)
                if not field.scorable:
                    length = 0
            stored = fields.get(f"_stored_{fieldname}", value)
            perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
            column = field.column_type
            if column and stored is not None:
                perdocwriter.add_column_value(fieldname, column, field.to_column_value(stored))
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        try:
            self.fieldwriter.add_term_lists(self.schema, lengths, self.pool.term_lists())
            self.fieldwriter.close()
        finally:
            lengths.close()
