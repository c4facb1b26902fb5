"""Reading what a clinic EHR exports: bytes -> a table of text cells with line numbers.

* CSV / TSV with the delimiter detected (comma, semicolon, tab, pipe) and quoted fields that
  hold newlines;
* UTF-8 with or without BOM, UTF-16 (BOM or NUL pattern), Windows-1252, Latin-1;
* Excel workbooks (.xlsx / .xlsm) opened read-only with cached values only: formulas are not
  evaluated and macros never run (openpyxl ``read_only=True, data_only=True``, no VBA kept).

Row numbers are the line numbers a person sees in a text editor, header = line 1; a quoted
field with newlines makes a record span several lines and the record is numbered by its first
line. In a workbook they are the spreadsheet's own row numbers (header row = its row number).
Blank lines are not rows and are not counted.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import io
import itertools
import os
import re
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from kapoutcomes.ingest.errors import IngestError

Progress = Callable[[int, int], None] | None
LINE = "_line"  # 1-based line (or spreadsheet row) where the record starts
SHAPE = "_shape"  # a problem with the record's shape (too many fields), else null

DELIMITERS = (",", ";", "\t", "|")

#: Default upload limits (docs/importing.md, "Limits", says why these numbers).
#: Largest file, in bytes: Streamlit's own default upload limit; a 100,000-row observation
#: export is about 5 MB, so this is tens of millions of clinic rows of headroom.
MAX_BYTES = 200 * 1024 * 1024
#: Most data rows (records) in one file or sheet.
MAX_ROWS = 5_000_000
#: Most columns in one header: a wide visit export has tens; more is a transposed or
#: corrupted file.
MAX_COLUMNS = 500
#: Longest cell, in characters (Python's csv default; Excel's own cell limit is 32,767).
MAX_FIELD_CHARS = 131_072
#: Longest cell kept, in characters: Excel's own cell limit. A longer cell (in a workbook or
#: a text file) is never stored: its row is quarantined with the reason, without the cell.
MAX_CELL_CHARS = 32_767
#: Most bytes an .xlsx workbook may unpack to (a zip bomb is refused before it is opened).
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    """Upload limits the importer enforces for the CLI and the app alike.

    Override per call: ``import_files(..., limits=ImportLimits(max_bytes=50 * 1024**2))``.
    A file over a limit raises ``IngestError`` naming the file, the limit and what to do.
    """

    max_bytes: int = MAX_BYTES
    max_rows: int = MAX_ROWS
    max_columns: int = MAX_COLUMNS
    max_field_chars: int = MAX_FIELD_CHARS
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES
    max_cell_chars: int = MAX_CELL_CHARS


DEFAULT_LIMITS = ImportLimits()
_SPLIT = "split the export into smaller files (for example by date range) and import them together"


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.0f}"  # pragma: no cover


def _too_big(name: str, size: int, limits: ImportLimits) -> IngestError:
    return IngestError(
        name,
        f"the file is {_size(size)}, over the import limit of {_size(limits.max_bytes)}",
        _SPLIT,
    )


def _too_many_rows(name: str, limits: ImportLimits, where: str = "") -> IngestError:
    return IngestError(
        name,
        f"{where}more than {limits.max_rows:,} data rows, over the import limit",
        _SPLIT,
    )


def _too_many_columns(name: str, n: int, limits: ImportLimits, where: str = "") -> IngestError:
    return IngestError(
        name,
        f"{where}{n:,} columns in the header, over the import limit of {limits.max_columns:,}",
        "export only the columns kapoutcomes reads (see docs/importing.md), or check that the "
        "file is not transposed or corrupted",
    )


_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old-style Excel 97-2003 (.xls) or Word file",
    b"\x1f\x8b": "a gzip archive",
    b"SQLite format 3": "an SQLite database",
    b"DUCK": "a DuckDB database",
}


@dataclass(eq=False)
class Source:
    """One input: a file name and its bytes (from a path, or from an upload). Not frozen:
    ``release`` drops the bytes once the file is read."""

    name: str
    data: bytes
    path: str | None = None

    @functools.cached_property
    def sha256(self) -> str:  # once per source: the ledger, the report and the check use it
        return hashlib.sha256(self.data).hexdigest()

    def release(self) -> None:
        """Drop the bytes once the file has been read into its table (the SHA-256 is kept):
        an 800 MB export need not stay in memory beside its cells for the rest of the
        import."""
        _ = self.sha256
        self.data = b""


@dataclass
class RawTable:
    """The cells of one file as text, with the line each record starts on."""

    source: Source
    frame: pl.DataFrame  # one String column per header, plus LINE (Int64) and SHAPE
    headers: list[str]
    encoding: str
    delimiter: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)
    #: lines of records whose cells may sit in the wrong columns: a row with more fields
    #: than the header, or two short records that together make one (a line break inside an
    #: unquoted cell). Their cells are not kept in the quarantine (a shifted name would be).
    suspect: frozenset[int] = frozenset()

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def height(self) -> int:
        return self.frame.height


def sources(
    items: Iterable[str | os.PathLike[str] | tuple[str, bytes]],
    limits: ImportLimits = DEFAULT_LIMITS,
) -> list[Source]:
    """Paths (a folder means every .csv/.tsv/.txt/.xlsx in it, sorted) or (name, bytes) pairs.

    A file over ``limits.max_bytes`` is refused before it is read into memory."""
    out: list[Source] = []
    for item in items:
        if isinstance(item, tuple):
            name, data = item
            if len(data) > limits.max_bytes:
                raise _too_big(str(name), len(data), limits)
            out.append(Source(name=str(name), data=bytes(data)))
            continue
        p = Path(item)
        if p.is_dir():
            files = sorted(
                f
                for f in p.iterdir()
                if f.is_file() and f.suffix.lower() in {".csv", ".tsv", ".txt", ".xlsx", ".xlsm"}
            )
            if not files:
                raise IngestError(
                    str(p), "the folder holds no .csv, .tsv, .txt or .xlsx files", "check the path"
                )
            for f in files:
                if f.stat().st_size > limits.max_bytes:
                    raise _too_big(f.name, f.stat().st_size, limits)
            out.extend(Source(name=f.name, data=f.read_bytes(), path=str(f)) for f in files)
            continue
        if not p.exists():
            raise IngestError(str(p), "no such file", "check the path and spelling")
        if p.stat().st_size > limits.max_bytes:
            raise _too_big(p.name, p.stat().st_size, limits)
        out.append(Source(name=p.name, data=p.read_bytes(), path=str(p)))
    return out


# -- decoding -------------------------------------------------------------------------------
def decode(src: Source) -> tuple[str, str]:
    """The text of a delimited file and the encoding used."""
    data = src.data
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise IngestError(
                src.name,
                "the file starts as UTF-16 text but is damaged or cut short",
                "export the data again",
            ) from None
    head = data[:4096]
    if head.count(b"\x00") > len(head) // 4:
        # UTF-16 without BOM: NULs in every other byte.
        even = head[0::2].count(b"\x00")
        odd = head[1::2].count(b"\x00")
        enc = "utf-16-le" if odd > even else "utf-16-be"
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            raise _not_table(src, "binary data (NUL bytes)") from None
    if b"\x00" in data:
        # a stray NUL or two in UTF-8 text (a damaged cell) fails its row (``guard_cells``);
        # more, or in text that is not UTF-8, is binary data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _not_table(src, "binary data (NUL bytes)") from None
        if not _sparse_nuls(text):
            raise _not_table(src, "binary data (NUL bytes)")
        return text, "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Windows-1252 unless it uses one of the five bytes cp1252 leaves undefined.
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


#: At most one NUL character in this many characters is a damaged cell, not binary data (a
#: file of random bytes holds one NUL in 256).
NUL_SPACING = 1000


def _sparse_nuls(text: str) -> bool:
    """Whether ``text`` holds no more NUL characters than a few damaged cells would."""
    return text.count("\x00") <= max(8, len(text) // NUL_SPACING)


def _not_table(src: Source, what: str) -> IngestError:
    return IngestError(
        src.name,
        f"this is not a table ({what})",
        "export the data as CSV, TSV or an Excel .xlsx workbook",
    )


def _check_binary(src: Source) -> None:
    for magic, what in _BINARY_MAGIC.items():
        if src.data.startswith(magic):
            raise _not_table(src, what)


#: Text documents that are not tables, recognised by how they start (any encoding).
_TEXT_KINDS = (
    (re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]"), "an HTML web page"),
    (re.compile(r"<\?xml|<!doctype\s"), "an XML document"),
    (re.compile(r"\{\\rtf"), "an RTF (Word) document"),
    (re.compile(r"[\[{]\s*[\[{\"]"), "JSON data"),
)


def _check_text(src: Source, text: str) -> None:
    """Refuse a text file that is a web page, XML, RTF or JSON rather than a table.

    The sign-in or error page an EHR portal returns instead of the export is the usual case."""
    if not _sparse_nuls(text):
        raise _not_table(src, "binary data (NUL characters)")
    start = text.lstrip("\ufeff \t\r\n")[:512].lower()
    for pattern, what in _TEXT_KINDS:
        if pattern.match(start):
            if what == "an HTML web page":
                raise IngestError(
                    src.name,
                    "this is not a table (an HTML web page, perhaps a sign-in or error page "
                    "saved instead of the export)",
                    "download the export again from the EHR as CSV, TSV or .xlsx",
                )
            raise _not_table(src, what)


# -- delimited text -------------------------------------------------------------------------
def sniff_delimiter(text: str, suffix: str = "") -> str:
    """The delimiter that splits the first records into the most, most consistent fields."""
    sample = text[:65536]
    best_score: tuple[float, int, int, int] | None = None
    best = ","
    for rank, d in enumerate(DELIMITERS):
        try:
            rows = [
                r
                for r, _ in zip(
                    csv.reader(io.StringIO(sample, newline=""), delimiter=d),
                    range(60),
                    strict=False,
                )
            ]
        except csv.Error:
            continue
        rows = [r for r in rows if any(c.strip() for c in r)]
        if len(rows) > 2 and len(text) > len(sample):
            rows = rows[:-1]  # the last sampled record may be cut short
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) / len(rows)
        prefer = 1 if (d == "\t" and suffix == ".tsv") else 0
        score = (round(consistent, 2), prefer, width, -rank)
        if best_score is None or score > best_score:
            best_score, best = score, d
    return best


def _dedupe_headers(raw: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(raw):
        h = (h or "").replace("\ufeff", "").replace("\x00", "")
        h = re.sub(r"\s+", " ", h).strip() or f"column {i + 1}"
        key = h.lower()
        if key in seen:
            seen[key] += 1
            h = f"{h} ({seen[key]})"
        else:
            seen[key] = 1
        out.append(h)
    return out


def read_delimited(
    src: Source,
    on_progress: Progress = None,
    offset: int = 0,
    total: int = 0,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> RawTable:
    csv.field_size_limit(limits.max_field_chars)
    suffix = Path(src.name).suffix.lower()
    fast = _read_utf8_fast(src, suffix, limits)
    if fast is not None:
        if on_progress:
            on_progress(offset + len(src.data), total)
        return fast
    text, encoding = decode(src)
    if not text.strip():
        raise IngestError(src.name, "the file is empty", "export the data again and check it")
    _check_text(src, text)
    delim = sniff_delimiter(text, suffix)
    # UTF-8 text the fast path declined goes to the careful reader (polars would decline again)
    fast = (
        None
        if encoding in ("utf-8", "utf-8-sig")
        else _read_delimited_fast(src, text, encoding, delim, limits)
    )
    if fast is not None:
        if on_progress:
            on_progress(offset + len(src.data), total)
        return fast
    recs = _records(
        src, text, delim, limits, lambda done: _progress(on_progress, offset, done, total)
    )
    _check_records(src, recs)
    assert recs.header is not None
    frame = _frame(recs.header, recs.cells, recs.lines, recs.shapes)
    notes = []
    if recs.preamble:
        where = ", ".join(str(x) for x in recs.preamble)
        notes.append(
            f"title line(s) above the header ignored (line {where}); "
            f"header on line {recs.header_line}"
        )
    return RawTable(
        src,
        frame,
        recs.header,
        encoding,
        delimiter=delim,
        notes=notes,
        suspect=frozenset(recs.suspect),
    )


def _progress(on_progress: Progress, offset: int, done: int, total: int) -> None:
    if on_progress:
        on_progress(offset + done, total)


@dataclass(frozen=True)
class _Records:
    """The records of a delimited text, read with the csv module."""

    header: list[str] | None
    header_line: int
    preamble: list[int]  # lines of title lines above the header
    cells: list[list[str]]  # one list per record, as wide as the header
    lines: list[int]  # the line each record starts on
    shapes: list[str | None]  # a problem with the record's shape, else None
    suspect: set[int]  # lines whose cells may sit in the wrong columns


def _runs_into_others(rec: list[str], delim: str) -> bool:
    """A cell holding a line break and the delimiter: other records (an unclosed quote) may
    have run into it, their cells, names included, sitting in a column that is not theirs."""
    return any(("\n" in c or "\r" in c) and delim in c for c in rec)


def _records(
    src: Source, text: str, delim: str, limits: ImportLimits, progress: Callable[[int], None]
) -> _Records:
    """Every non-blank record after the header, fitted to the header's width; ``progress``
    gets the bytes read so far."""
    buf = io.StringIO(text, newline="")
    reader = csv.reader(buf, delimiter=delim)
    header: list[str] | None = None
    header_line = prev_line = 0
    preamble: list[int] = []
    lines: list[int] = []
    cells: list[list[str]] = []
    shapes: list[str | None] = []
    suspect: set[int] = set()
    prev_fields, prev_start = 0, 0
    n_chars = max(1, len(text))
    try:
        for rec in reader:
            start = prev_line + 1
            prev_line = reader.line_num
            if not rec or not any(c.strip() for c in rec):
                continue
            if header is None:
                if sum(1 for c in rec if c.strip()) < 2 and len(preamble) < 10:
                    preamble.append(start)  # a title line above the header ("Report ...")
                    continue
                if len(rec) > limits.max_columns:
                    raise _too_many_columns(src.name, len(rec), limits, f"line {start}: ")
                if _runs_into_others(rec, delim):  # not "a header but no data rows"
                    raise _swallowed(src.name, start)
                header = _dedupe_headers(rec)
                header_line = start
                continue
            if len(cells) >= limits.max_rows:
                raise _too_many_rows(src.name, limits)
            width, n = len(header), len(rec)
            if n < width and prev_fields and prev_fields < width and prev_fields + n - 1 == width:
                suspect.update((prev_start, start))  # one record split across two lines
            prev_fields, prev_start = n, start
            rec, shape = _fit_record(rec, width)
            if shape is not None or _runs_into_others(rec, delim):
                suspect.add(start)
            cells.append(rec)
            lines.append(start)
            shapes.append(shape)
            if len(cells) % 20000 == 0:
                progress(int(len(src.data) * buf.tell() / n_chars))
    except csv.Error as e:
        raise _unreadable(src, e, prev_line + 1, delim, limits) from None
    return _Records(header, header_line, preamble, cells, lines, shapes, suspect)


def _fit_record(rec: list[str], width: int) -> tuple[list[str], str | None]:
    """A record padded or cut to ``width`` fields; the shape problem when cut fields held
    values."""
    if len(rec) < width:
        return rec + [""] * (width - len(rec)), None
    if len(rec) > width:
        shape = None
        if any(c.strip() for c in rec[width:]):
            shape = f"the row has {len(rec)} fields but the header has {width}"
        return rec[:width], shape
    return rec, None


def _unreadable(
    src: Source, e: csv.Error, line: int, delim: str, limits: ImportLimits
) -> IngestError:
    if "field larger than field limit" in str(e):
        return IngestError(
            src.name,
            f"a cell in the record starting at line {line} is longer than the "
            f"limit of {limits.max_field_chars:,} characters",
            'check for an unclosed quote (") that runs on to the end of the file, or '
            "export it again",
        )
    return IngestError(
        src.name,
        f"the file cannot be read as {_delim_name(delim)}-separated text at line {line} ({e})",
        "check for an unclosed quote, or export it again",
    )


def _check_records(src: Source, recs: _Records) -> None:
    """A table needs a header of two columns or more and a data row."""
    if recs.header is None and recs.preamble:
        raise _not_table(src, "only one column was found; no comma, semicolon, tab or pipe")
    if recs.header is None:
        raise IngestError(src.name, "the file is empty", "export the data again and check it")
    if len(recs.header) < 2:
        raise _not_table(src, "only one column was found; no comma, semicolon, tab or pipe")
    if not recs.cells:
        raise IngestError(
            src.name,
            f"the file has a header (line {recs.header_line}) but no data rows",
            "export again including the data rows",
        )


#: Characters of the start of a file that settle its delimiter and header (``sniff_delimiter``
#: samples 65,536 characters): bytes enough for that many characters of four bytes each.
_HEAD_BYTES = 4 * 65_536 + 16


def _read_utf8_fast(src: Source, suffix: str, limits: ImportLimits) -> RawTable | None:
    """The fast path for UTF-8 text (with or without BOM), the usual export: polars reads the
    bytes themselves, so the file is never decoded into one Python string. Only the start is
    decoded, for the same checks the careful path makes (not a web page, the delimiter, the
    header). None when the file is anything else (UTF-16, Windows-1252, NUL bytes, a
    broken UTF-8 sequence, ...): the caller decodes it and decides as before."""
    data = src.data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        return None
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    whole = len(data) - bom <= _HEAD_BYTES
    try:
        head = codecs.getincrementaldecoder("utf-8")().decode(
            data[bom : bom + _HEAD_BYTES], final=whole
        )
    except UnicodeDecodeError:
        return None
    if not head.strip():
        return None
    _check_text(src, head)
    delim = sniff_delimiter(head, suffix)
    return _fast_frame(src, data, head, "utf-8-sig" if bom else "utf-8", delim, limits)


def _read_delimited_fast(
    src: Source, text: str, encoding: str, delim: str, limits: ImportLimits
) -> RawTable | None:
    """The fast path for text already decoded (UTF-16, Windows-1252, ...): see
    ``_fast_frame``."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return _fast_frame(src, data, text[:_HEAD_BYTES], encoding, delim, limits)


class _Quoted(NamedTuple):
    delimiters: int  # delimiters inside quoted fields
    breaks: list[int]  # positions of the line breaks inside quoted fields


class _Scan(NamedTuple):
    """What one pass over a file's bytes finds."""

    quoted: _Quoted
    delimiters: int  # all delimiters
    line_breaks: int  # all line breaks


def _quoted_sections(data: bytes, delim: int, start: int) -> _Quoted | None:
    """The delimiters and the positions of the line breaks inside quoted fields of ``data``
    (from ``start``), or None when the quoting is malformed: a quote inside an unquoted field,
    text after a closing quote, or a quote left open - polars and the csv module read those
    differently, so such files go to the careful reader. In a well-formed file every quote
    opens a field, doubles a quote inside one, or closes one just before a delimiter or line
    end. Visits the quotes only."""
    inside = False
    n = len(data)
    find = data.find
    delims = 0
    breaks: list[int] = []
    opened = 0
    a = find(b'"', start)
    while a >= 0:
        b = a + 1
        while b < n and data[b] == 34:  # a run of quotes
            b += 1
        if not inside:
            if a > start and data[a - 1] not in (delim, 10):
                return None  # a quote inside an unquoted field
            inside = (b - a) % 2 == 1  # the opening quote, then doubled quotes
            opened = a
        else:
            inside = (b - a) % 2 == 0  # doubled quotes, or the closing one
        if not inside:
            if b < n and data[b] not in (delim, 10, 13):
                return None  # text after a closing quote
            if b - opened > 2:
                delims += data.count(delim, opened, b)
                nl = find(b"\n", opened, b)
                while nl >= 0:
                    breaks.append(nl)
                    nl = find(b"\n", nl + 1, b)
        a = find(b'"', b)
    return None if inside else _Quoted(delims, breaks)


def _scan(data: bytes, delim: int, start: int) -> _Scan | None:
    """``_quoted_sections``, the delimiters and the line breaks of ``data``; None when the
    quoting is malformed or a line ends in a bare CR (the careful reader keeps count)."""
    quoted = _quoted_sections(data, delim, start)
    if quoted is None:
        return None
    if data.find(b"\r") >= 0 and data.count(b"\r") != data.count(b"\r\n"):
        return None
    return _Scan(quoted, data.count(bytes([delim])), data.count(b"\n"))


def _fast_frame(
    src: Source, data: bytes, head: str, encoding: str, delim: str, limits: ImportLimits
) -> RawTable | None:
    """polars' CSV reader for the common, well-formed file (``data``: its UTF-8 bytes, a BOM
    allowed; ``head``: the start of its text); None sends the file to the csv-module reader,
    which handles title lines, blank lines, ragged rows and bare-CR line endings and says
    exactly where a broken file breaks. Both give the same cells and the same line numbers (a
    record starts one line after the previous record ended)."""
    if data.find(b"\n", 0, 65_536) < 0:
        return None  # no line break near the start: not a file of several records
    header = _fast_header(head, delim, limits)
    if header is None:
        return None
    f, scan = _parse_and_scan(data, delim, header)
    if scan is None or f is None:
        return None  # malformed quoting or bare CR line endings (see ``_scan``), or polars
    if f.width != len(header) or f.height == 0 or f.height > limits.max_rows:
        return None
    if any(f.null_count().row(0)):
        f = f.with_columns(pl.col(c).fill_null("") for c in header)
    if not _as_careful_reader(f, scan, header, data, limits):
        return None
    line = _record_lines(f.height, data, scan.quoted.breaks)
    f = f.with_columns(line.cast(pl.Int64).alias(LINE), pl.lit(None, pl.String).alias(SHAPE))
    return RawTable(src, f, header, encoding, delimiter=delim)


def _fast_header(head: str, delim: str, limits: ImportLimits) -> list[str] | None:
    """The header, when it is the first line and has two named columns or more."""
    try:
        reader = csv.reader(io.StringIO(head, newline=""), delimiter=delim)
        raw_header = next(reader)
        if reader.line_num != 1:
            return None  # a header record that spans lines
    except (csv.Error, StopIteration):
        return None
    if sum(1 for c in raw_header if c.strip()) < 2 or len(raw_header) > limits.max_columns:
        return None
    return _dedupe_headers(raw_header)


def _parse_and_scan(
    data: bytes, delim: str, header: list[str]
) -> tuple[pl.DataFrame | None, _Scan | None]:
    """polars' parse of the records and the scan of the bytes, None for either that fails.
    The passes over the bytes (quotes, delimiters, line breaks) run in a thread while polars
    parses (polars releases the GIL): every check after must hold, whichever ends first."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    with ThreadPoolExecutor(1) as pool:
        scanned = pool.submit(_scan, data, ord(delim), start)
        try:
            f = pl.read_csv(
                data,
                separator=delim,
                has_header=False,
                skip_rows=1,
                new_columns=header,
                infer_schema=False,
                raise_if_empty=False,
                empty_string_is_null=False,
            )
        # anything polars does not read cleanly (a panic too: the file may be malformed,
        # which the scan tells only afterwards): the careful reader decides
        except (Exception, pl.exceptions.PanicException):
            f = None
        return f, scanned.result()


def _as_careful_reader(
    f: pl.DataFrame, scan: _Scan, header: list[str], data: bytes, limits: ImportLimits
) -> bool:
    """Whether polars' records are the careful reader's: no short record, no blank line, no
    cell over the limit, no whitespace-only record."""
    width = len(header)
    # A record with fewer fields than the header (polars pads it) goes to the careful reader,
    # which notes records split in two. Found by counting: every delimiter of the file either
    # separates two fields (width - 1 per record with all its fields; a record never has
    # more, polars refuses those) or sits inside a quoted field.
    if scan.delimiters != (f.height + 1) * (width - 1) + scan.quoted.delimiters:
        return False
    # every line break ends a record (the header's, each record's but perhaps the last) or
    # sits inside a quoted field; a blank line (which the careful reader skips and counts) is
    # either a record polars padded (refused above) or a line break too many
    if scan.line_breaks != f.height + data.endswith(b"\n") + len(scan.quoted.breaks):
        return False
    if f.select(pl.max_horizontal(pl.col(c).str.len_bytes().max() for c in header)).item() > (
        limits.max_field_chars
    ) and any(
        (f.get_column(c).str.len_chars().max() or 0) > limits.max_field_chars for c in header
    ):
        return False
    ws = ~f.get_column(header[0]).str.contains(r"\S")  # whitespace only (or empty)
    # whitespace-only records are skipped by the careful reader
    return not (
        ws.any()
        and (
            f.filter(ws)
            .select(pl.all_horizontal(pl.col(c).str.strip_chars() == "" for c in header).any())
            .item()
        )
    )


def _record_lines(height: int, data: bytes, breaks: list[int]) -> pl.Series:
    """The line each record starts on (header on line 1)."""
    if not breaks:  # one line per record
        return pl.int_range(2, height + 2, dtype=pl.Int64, eager=True)
    # a line break inside a quoted field lengthens the record holding it by a line; the
    # record of the physical line p of such a break is p - 2 less the breaks before it
    before = [data.count(b"\n", 0, breaks[0])]
    for x, y in itertools.pairwise(breaks):
        before.append(before[-1] + 1 + data.count(b"\n", x + 1, y))
    record = (
        pl.Series(before, dtype=pl.Int64)
        - 1
        - pl.int_range(0, len(breaks), dtype=pl.Int64, eager=True)
    )
    extra = record.alias("i").value_counts().with_columns(pl.col("count").cast(pl.Int64))
    span = (
        pl.int_range(0, height, dtype=pl.Int64, eager=True)
        .alias("i")
        .to_frame()
        .join(extra, on="i", how="left", maintain_order="left")
        .select(1 + pl.col("count").fill_null(0))
        .to_series()
    )
    return span.cum_sum() - span + 2  # header on line 1


def _delim_name(d: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[d]


def _frame(
    header: list[str], cells: list[list[str]], lines: list[int], shapes: list[str | None]
) -> pl.DataFrame:
    cols = list(zip(*cells, strict=True)) if cells else [() for _ in header]
    data = {h: pl.Series(h, list(c), dtype=pl.String) for h, c in zip(header, cols, strict=True)}
    data[LINE] = pl.Series(LINE, lines, dtype=pl.Int64)
    data[SHAPE] = pl.Series(SHAPE, shapes, dtype=pl.String)
    return pl.DataFrame(data)


# -- Excel ----------------------------------------------------------------------------------
def _cell_text(v: object) -> str:
    import datetime as dt

    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return (
            v.isoformat(sep=" ")
            if (v.hour, v.minute, v.second) != (0, 0, 0)
            else v.date().isoformat()
        )
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def read_excel(
    src: Source, sheet: str | None = None, limits: ImportLimits = DEFAULT_LIMITS
) -> RawTable:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(
            io.BytesIO(src.data), read_only=True, data_only=True, keep_vba=False, keep_links=False
        )
    except Exception as e:  # corrupt or not really a workbook
        raise IngestError(
            src.name,
            f"the workbook cannot be opened ({type(e).__name__})",
            "save it again as .xlsx",
        ) from None
    try:
        ws = _worksheet(src, wb, sheet)
        recs = _sheet_records(src, ws, limits)
        title = ws.title
    finally:
        wb.close()
    _check_sheet(src, recs, title)
    assert recs.header is not None
    notes = []
    if recs.preamble:
        where = ", ".join(str(x) for x in recs.preamble)
        notes.append(
            f"title row(s) above the header ignored (row {where}); header on row {recs.header_line}"
        )
    frame = _frame(recs.header, recs.cells, recs.lines, recs.shapes)
    return RawTable(src, frame, recs.header, "xlsx", sheet=title, notes=notes)


def _worksheet(src: Source, wb: Any, sheet: str | None) -> Any:
    """The sheet named ``sheet`` (case and surrounding spaces ignored), else the first."""
    names = wb.sheetnames
    if sheet is None:
        return wb[names[0]]
    match = [n for n in names if n.strip().lower() == sheet.strip().lower()]
    if not match:
        raise IngestError(
            src.name,
            f"no sheet named {sheet!r}",
            f"choose one of: {', '.join(names)}",
        )
    return wb[match[0]]


def _sheet_records(src: Source, ws: Any, limits: ImportLimits) -> _Records:
    """Every non-blank row after the header, as text fitted to the header's width."""
    # ignore the sheet's declared size: rows are not padded to a forged A1:XFD1048576
    ws.reset_dimensions()
    header: list[str] | None = None
    header_row = 0
    preamble: list[int] = []
    cells: list[list[str]] = []
    lines: list[int] = []
    shapes: list[str | None] = []
    for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
        texts = [_cell_text(v) for v in row]
        if not any(t.strip() for t in texts):
            continue
        if header is None:
            if sum(1 for t in texts if t.strip()) < 2 and len(preamble) < 10:
                preamble.append(r)  # a title row above the header
                continue
            while texts and not texts[-1].strip():
                texts.pop()
            if len(texts) > limits.max_columns:
                raise _too_many_columns(src.name, len(texts), limits, f"row {r}: ")
            header = _dedupe_headers(texts)
            header_row = r
            continue
        if len(cells) >= limits.max_rows:
            raise _too_many_rows(src.name, limits, f"sheet {ws.title!r}: ")
        width = len(header)
        shape = None
        if len(texts) > width and any(t.strip() for t in texts[width:]):
            shape = f"the row has values beyond the last header column ({width} columns)"
        cells.append((texts + [""] * width)[:width])
        lines.append(r)
        shapes.append(shape)
    return _Records(header, header_row, preamble, cells, lines, shapes, set())


def _check_sheet(src: Source, recs: _Records, title: str) -> None:
    """A sheet to import needs a header of two columns or more and a data row."""
    if recs.header is None and recs.preamble:
        raise _not_table(src, f"sheet {title!r} has only one column")
    if recs.header is None:
        raise IngestError(src.name, f"sheet {title!r} is empty", "choose the sheet with --sheet")
    if len(recs.header) < 2:
        raise _not_table(src, f"sheet {title!r} has only one column")
    if not recs.cells:
        raise IngestError(
            src.name,
            f"sheet {title!r} has a header but no data rows",
            "export again including the data rows, or choose another sheet with --sheet",
        )


#: Bytes of a file with nothing in it: whitespace, NULs and byte-order marks only.
_BLANK = re.compile(rb"[ \t\r\n\x00\xef\xbb\xbf\xff\xfe]*")


def read(
    src: Source,
    sheet: str | None = None,
    on_progress: Progress = None,
    offset: int = 0,
    total: int = 0,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> RawTable:
    """Read one source into a RawTable, or raise IngestError saying what to do.

    What the file is comes from its content, never its name: a workbook named .csv is read
    as a workbook, a CSV named .xlsx as text (the report notes it)."""
    if len(src.data) > limits.max_bytes:
        raise _too_big(src.name, len(src.data), limits)
    if _BLANK.fullmatch(src.data):  # (a search for the first other byte: no copy of the file)
        raise IngestError(src.name, "the file is empty", "export the data again and check it")
    if src.data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(src.data)) as z:
                is_xlsx = "xl/workbook.xml" in z.namelist()
                unpacked = sum(i.file_size for i in z.infolist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
            is_xlsx, unpacked = False, 0
        if not is_xlsx:
            raise _not_table(src, "a zip archive that is not an Excel workbook")
        if unpacked > limits.max_unpacked_bytes:
            raise IngestError(
                src.name,
                f"the workbook unpacks to {_size(unpacked)}, over the import limit of "
                f"{_size(limits.max_unpacked_bytes)}",
                "save the sheet to import as CSV, or " + _SPLIT,
            )
        raw = read_excel(src, sheet, limits)
        if Path(src.name).suffix.lower() not in (".xlsx", ".xlsm"):
            raw.notes.append("the file is an Excel workbook (read as one, whatever its name)")
        return raw
    _check_binary(src)
    if Path(src.name).suffix.lower() == ".xls":
        raise _not_table(src, "an .xls file that is not a workbook")
    raw = read_delimited(src, on_progress, offset, total, limits)
    if Path(src.name).suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        raw.notes.append("the file is delimited text, not a workbook (read as text)")
    check_swallowed_records(raw)
    return raw


def _fail_rows(f: pl.DataFrame, where: pl.Expr, why: str) -> pl.DataFrame:
    """``f`` with ``why`` as the record's problem (``SHAPE``) where ``where`` holds and the
    record has no problem yet."""
    return f.with_columns(
        pl.when(where & pl.col(SHAPE).is_null())
        .then(pl.lit(why))
        .otherwise(pl.col(SHAPE))
        .alias(SHAPE)
    )


def guard_cells(
    raw: RawTable,
    limits: ImportLimits = DEFAULT_LIMITS,
    used: frozenset[str] | None = None,
    identifiers: frozenset[str] = frozenset(),
) -> RawTable:
    """Cells over ``limits.max_cell_chars`` are emptied (never stored), NUL characters are
    taken out of their cells. In a column the import reads (``used``; None: every column) the
    row gets the reason, so it is quarantined on its own; the rest of the file imports.
    Cells of ``identifiers`` (never stored) are left as read: their words scrub the rest of
    the file (a name emptied or run together here would stay in another row's text)."""
    f = raw.frame
    n = limits.max_cell_chars
    cols = [h for h in raw.headers if h in f.columns and h not in identifiers]
    long = [c for c in cols if (f.get_column(c).str.len_bytes().max() or 0) > n]
    long = [c for c in long if (f.get_column(c).str.len_chars().max() or 0) > n]
    for c in long:
        over = pl.col(c).str.len_chars() > n
        why = (
            f"a cell in column {c!r} is longer than {n:,} characters (Excel's own cell "
            'limit); the cell was not kept: shorten it, or check for an unclosed quote (")'
        )
        if used is None or c in used:
            f = _fail_rows(f, over, why)
        f = f.with_columns(pl.when(over).then(pl.lit("")).otherwise(pl.col(c)).alias(c))
    # a NUL character (binary data, a damaged export) is taken out of its cell; in a column
    # the import reads the row fails with the reason, as the value may have lost characters
    nul = [c for c in cols if f.get_column(c).str.contains("\x00", literal=True).any()]
    for c in nul:
        has = pl.col(c).str.contains("\x00", literal=True).fill_null(False)
        why = (
            f"a cell in column {c!r} holds a NUL character (binary data, not text): check the "
            "value in the EHR and export the file again"
        )
        if used is None or c in used:
            f = _fail_rows(f, has, why)
        f = f.with_columns(pl.col(c).str.replace_all("\x00", "", literal=True))
    if long or nul:
        raw.frame = f
    return raw


def check_swallowed_records(raw: RawTable) -> None:
    """Refuse a text file in which an unclosed quote swallowed the following records into one
    cell: a header cell holding a line break and a delimiter; a data cell whose later lines
    hold as many delimiters as a whole record (two such lines for a file of fewer than four
    columns), or whose text after its first line break holds three line breaks and the
    delimiters of two records (records with line breaks of their own). The error names the
    line where the quote opened. A line break is any of LF, CRLF and CR (a file with CR line
    ends, as old Mac software writes them: its swallowed records hold no LF at all)."""
    if raw.delimiter is None:
        return
    d = re.escape(raw.delimiter)
    if any(("\n" in h or "\r" in h) and raw.delimiter in h for h in raw.headers):
        raise _swallowed(raw.name, 1)
    if raw.frame.height == 0:
        return
    width = len(raw.headers)
    need = max(2, width - 1)
    lines = 1 if width >= 4 else 2
    one_line = rf"(?:\n(?:[^\n{d}]*{d}){{{need}}}[^\n]*){{{lines}}}"
    f = raw.frame
    for c in raw.headers:
        if c not in f.columns:
            continue
        s = f.get_column(c)
        if not s.str.contains(r"[\r\n]").any():
            continue
        s = s.str.replace_all(r"\r\n?", "\n")
        tail = s.str.replace(r"^[^\n]*\n", "")
        hit = s.str.contains(one_line).fill_null(False) | (
            (s.str.count_matches("\n", literal=True) >= 3)
            & (tail.str.count_matches(raw.delimiter, literal=True) >= 2 * need)
        ).fill_null(False)
        if hit.any():
            raise _swallowed(raw.name, f.get_column(LINE).filter(hit).min())


def _swallowed(name: str, line: int) -> IngestError:
    return IngestError(
        name,
        f'an unclosed quote (") in the record starting at line {line} runs on over '
        "the following lines, which would be read as one cell",
        f"close or remove the quote on line {line} (or export the file again) and import it again",
    )
