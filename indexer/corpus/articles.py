"""Reading article files into ``Article`` records.

Two formats: plain-text articles (title line, paragraphs between blank lines, photo captions
standing alone between larger gaps, a closing byline) and JSON Lines, optionally gzipped.
A problem with one file or one line becomes a ``ReadError`` naming the file and line; the
reader goes on with the rest.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.analysis.text import nfc

TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
METADATA = ("date", "category", "source", "url", "author")

# "Tin, ảnh: Bùi Hiệp", "Bài và ảnh: ...", "Theo TTXVN" closes many Vietnamese articles.
_BYLINE_RE = re.compile(
    r"^(?:(?:tin|bài|ảnh|video|clip|nhóm phóng viên|pv)"
    r"(?:\s*(?:,|và|-|\+|&|/)\s*(?:tin|bài|ảnh|video|clip))*\s*:\s*(?P<name>.+)"
    r"|theo\s+(?P<source>[^,.]{2,60}))$",
    re.IGNORECASE,
)
_BLANK_SPLIT_RE = re.compile(r"\n[ \t\r\f\v]*\n")
# Archives key articles by URL or by their CMS's ids: any text is an id, up to this long.
MAX_ID_CHARS = 512


@dataclass(frozen=True)
class Paragraph:
    """One passage of an article: the unit that is indexed and returned."""

    text: str
    kind: str = "body"  # "body" or "caption"


@dataclass(frozen=True)
class Article:
    """An article as read from its file, ready to be cut into passages."""

    id: str
    title: str
    paragraphs: tuple[Paragraph, ...]
    date: str | None = None
    category: str | None = None
    source: str | None = None
    url: str | None = None
    author: str | None = None
    origin: str = field(default="", compare=False)  # "file" or "file:line", for messages

    def content_hash(self) -> str:
        """Changes whenever anything that is indexed or shown changes."""
        payload = json.dumps(
            [self.title, [(p.text, p.kind) for p in self.paragraphs]]
            + [getattr(self, name) for name in METADATA],
            ensure_ascii=False,
        )
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ReadError:
    """Why one file, or one line of it, could not be read."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


def read_paths(paths: Iterable[str | Path]) -> Iterator[Article | ReadError]:
    """Every article under the given files and directories (walked recursively, sorted)."""
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_article_file(p))
            for file in files:
                yield from read_file(file)
        elif path.is_file():
            yield from read_file(path)
        else:
            yield ReadError(str(path), None, "no such file or directory")


def _is_article_file(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith(".") and name.endswith(TEXT_SUFFIXES + JSONL_SUFFIXES)


def read_file(path: Path) -> Iterator[Article | ReadError]:
    """The articles of one file, by its extension."""
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        yield from read_jsonl(path)
    elif name.endswith(TEXT_SUFFIXES):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            yield ReadError(str(path), None, f"cannot read: {exc.strerror or exc}")
            return
        try:
            text = decode(raw)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            yield ReadError(str(path), line, f"not valid UTF-8 or UTF-16 text ({exc.reason})")
            return
        problem = id_problem(path.stem)  # the file name as it is: ids of indexes built before
        if problem:
            yield ReadError(str(path), None, f"the file name cannot be an article id: {problem}")
            return
        yield parse_text_article(path.stem, text, origin=str(path))
    else:
        yield ReadError(str(path), None, "unknown file type (expected .txt, .jsonl, .jsonl.gz)")


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else raises."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def id_problem(article_id: str) -> str | None:
    """Why ``article_id`` (NFC, trimmed) cannot identify an article, or None when it can.

    Anything printable goes (URLs, Vietnamese, ``~ / ? # %``, spaces); a control character
    would be invisible in every message and page, and a lone surrogate cannot be stored.
    """
    if not article_id:
        return "it is empty"
    if len(article_id) > MAX_ID_CHARS:
        return f"it is {len(article_id)} characters long, more than {MAX_ID_CHARS}"
    for char in article_id:
        kind = unicodedata.category(char)
        if kind == "Cc":
            return f"it holds the control character U+{ord(char):04X}"
        if kind == "Cs":
            return f"it holds the lone surrogate U+{ord(char):04X}"
    return None


def parse_text_article(article_id: str, text: str, origin: str = "") -> Article | ReadError:
    """Split a plain-text article into title, paragraphs, captions and byline."""
    lines = nfc(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[tuple[int, list[str]]] = []  # (blank lines before, lines)
    gap = 0
    for line in lines:
        if line.strip():
            if blocks and gap == 0:
                blocks[-1][1].append(line.strip())
            else:
                blocks.append((gap, [line.strip()]))
            gap = 0
        else:
            gap += 1
    if not blocks:
        return ReadError(origin or article_id, None, "empty article")

    title_lines = blocks[0][1]
    title, rest_of_first = title_lines[0], title_lines[1:]
    body = ([(0, rest_of_first)] if rest_of_first else []) + blocks[1:]

    author = None
    if body and len(body[-1][1]) == 1 and len(body[-1][1][0]) <= 80:
        match = _BYLINE_RE.match(body[-1][1][0])
        if match:
            author = (match.group("name") or match.group("source") or "").strip() or None
            body = body[:-1]

    paragraphs = []
    for i, (before, block_lines) in enumerate(body):
        after = body[i + 1][0] if i + 1 < len(body) else 0
        standalone = len(block_lines) == 1 and len(block_lines[0]) <= 300
        kind = "caption" if standalone and max(before, after) >= 2 else "body"
        paragraphs.append(Paragraph("\n".join(block_lines), kind))
    return Article(
        id=article_id, title=title, paragraphs=tuple(paragraphs), author=author, origin=origin
    )


def read_jsonl(path: Path) -> Iterator[Article | ReadError]:
    """One article per line; a bad line is reported and skipped."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                yield parse_json_article(raw, f"{path}", number)
    except (OSError, EOFError) as exc:
        yield ReadError(str(path), None, f"cannot read: {exc}")


def parse_json_article(raw: bytes | str, path: str, line: int) -> Article | ReadError:
    """One JSON Lines record to an ``Article``, or the reason it is not one."""
    try:
        if isinstance(raw, bytes):
            raw = decode(raw)
        record = json.loads(raw)
    except UnicodeDecodeError as exc:
        return ReadError(path, line, f"not valid UTF-8 ({exc.reason})")
    except json.JSONDecodeError as exc:
        return ReadError(path, line, f"malformed JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(record, dict):
        return ReadError(path, line, "expected a JSON object")

    article_id = record.get("id")
    if isinstance(article_id, int) and not isinstance(article_id, bool):
        article_id = str(article_id)
    if not isinstance(article_id, str) or not article_id.strip():
        return ReadError(path, line, 'missing "id"')
    article_id = nfc(article_id).strip()
    problem = id_problem(article_id)
    if problem:
        return ReadError(path, line, f'bad "id" {article_id[:40]!r}: {problem}')

    strings = {}
    for name in ("title", "body", *METADATA):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return ReadError(path, line, f'"{name}" must be a string')
        strings[name] = nfc(value).strip() if value else None

    if "paragraphs" in record and record["paragraphs"] is not None:
        items = record["paragraphs"]
        if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
            return ReadError(path, line, '"paragraphs" must be a list of strings')
        texts = [nfc(p).strip() for p in items]
    else:
        texts = [p.strip() for p in _BLANK_SPLIT_RE.split(strings["body"] or "")]
    paragraphs = tuple(Paragraph(t) for t in texts if t)
    if not paragraphs and not strings["title"]:
        return ReadError(path, line, f"article {article_id!r} has no title and no text")

    date = strings["date"]
    if date:
        try:
            date = _iso_date(date)
        except ValueError:
            return ReadError(path, line, f'"date" {date!r} is not an ISO 8601 date')
    return Article(
        id=article_id,
        title=strings["title"] or "",
        paragraphs=paragraphs,
        date=date,
        category=strings["category"],
        source=strings["source"],
        url=strings["url"],
        author=strings["author"],
        origin=f"{path}:{line}",
    )


def _iso_date(value: str) -> str:
    """Normalise an ISO 8601 date or date-time to ``YYYY-MM-DD``."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return dt.datetime.fromisoformat(text).date().isoformat()
