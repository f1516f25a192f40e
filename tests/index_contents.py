"""What tests compare of two indexes: their postings as a search reads them."""

from __future__ import annotations


def decoded_postings(reader) -> list[tuple]:
    """Every posting of every field as (field, term, document, weight, value), positions
    decoded (ours are written compactly, see ``term_formats``)."""
    out = []
    for fieldname, btext, docnum, weight, value in reader.iter_postings():
        fmt = reader.schema[fieldname].format
        if fmt.supports("positions"):
            value = fmt.decode_positions(value)
        out.append((fieldname, btext, docnum, weight, value))
    return out
