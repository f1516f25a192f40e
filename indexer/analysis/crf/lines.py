"""Lines of UTF-8 text in, their segmentation out, in batches: what ``vnsearch segment``
streams, in constant memory whatever the input's size."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import BinaryIO

from .segmenter import Segmentation, Segmenter

BATCH_LINES = 1000
_BOM = b"\xef\xbb\xbf"


def read_lines(stream: BinaryIO, name: str, warn: Callable[[str], None]) -> Iterator[str]:
    """Each line of a UTF-8 byte stream, without its ``\\n`` (or ``\\r\\n``).

    A line that is not valid UTF-8 is read with U+FFFD in place of each bad byte sequence
    and reported through ``warn`` with ``name`` and its line number: one bad line neither
    stops the stream nor shifts the lines after it. A byte order mark opening the stream
    is dropped.
    """
    for number, raw in enumerate(stream, start=1):
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            warn(
                f"{name}:{number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at byte "
                f"{exc.start + 1}); bad bytes replaced by U+FFFD"
            )
            yield raw.decode("utf-8", errors="replace")


def segment_lines(
    lines: Iterable[str], segmenter: Segmenter, as_json: bool = False
) -> Iterator[list[str]]:
    """For each batch of lines, the output lines: pyvi's segmentation of each (exactly
    ``ViTokenizer.tokenize``), or with ``as_json`` one JSON object each (``to_json``)."""
    it = iter(lines)
    while batch := list(islice(it, BATCH_LINES)):
        if as_json:
            yield [to_json(s) for s in segmenter.segment_many(batch)]
        else:
            yield segmenter.tokenize_many(batch)


def to_json(segmentation: Segmentation) -> str:
    """``{"text": ..., "words": [{"word": "Hà_Nội", "start": 0, "end": 6}, ...]}``.

    ``text`` is the line in NFC (as pyvi reads it: the line itself unless it came in
    another normal form); ``words`` are pyvi's words in order, syllables joined by ``_``,
    and ``text[start:end]`` is each word as written (offsets in code points).
    """
    words = [{"word": w.word, "start": w.start, "end": w.end} for w in segmentation.words()]
    return json.dumps({"text": segmentation.text, "words": words}, ensure_ascii=False)
