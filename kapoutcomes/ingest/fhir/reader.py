"""Reading FHIR R4 JSON: a Bundle (of any type) or a single resource in a ``.json`` file, and
bulk-export ``.ndjson`` files (one resource per line) read line by line.

Resources come out of a generator one at a time with their row number, so an ndjson file is
never held in memory whole: from a path only the current line is (``StreamedSource``); the
bytes of an upload are read through ``io.BytesIO`` the same way.

Row numbers: in an ndjson file the line number (blank lines are not rows); in a Bundle the
entry's position (the first entry is row 1); a file holding one resource is row 1.
A line that is not JSON, or not a FHIR resource, is yielded with its problem (quarantined
by the caller with file and line); a ``.json`` document that does not parse is refused whole
with the line and column where it breaks.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.errors import IngestError

#: Longest ndjson line read, in bytes: a resource longer than this (an embedded attachment,
#: or a file with no line breaks) is quarantined without being held in memory.
MAX_LINE_BYTES = 8 * 1024 * 1024
SUFFIXES = (".json", ".ndjson")
_CHUNK = 1 << 20
#: A JSON object's start: ``{`` then a key's quote or ``}`` (an RTF document starts ``{\rtf``).
_JSON_OBJECT = re.compile(rb"(?:\xef\xbb\xbf)?\s*\{\s*[\"}]")


@dataclass(eq=False)
class StreamedSource(rd.Source):
    """An ndjson file read from disk line by line: its bytes are never loaded whole (the
    SHA-256 for the ledger is computed in 1 MB chunks)."""

    size: int = 0

    @functools.cached_property
    def sha256(self) -> str:
        h = hashlib.sha256()
        assert self.path is not None
        with open(self.path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        return h.hexdigest()

    def open(self) -> IO[bytes]:
        assert self.path is not None
        return open(self.path, "rb")


def _open(src: rd.Source) -> IO[bytes]:
    return src.open() if isinstance(src, StreamedSource) else io.BytesIO(src.data)


def _head(src: rd.Source, n: int = 4096) -> bytes:
    with _open(src) as fh:
        return fh.read(n)


def is_fhir(src: rd.Source) -> bool:
    """A JSON object text (what FHIR JSON is): judged from the content, never the name."""
    head = _head(src, 65536) if isinstance(src, StreamedSource) else src.data[:65536]
    return _JSON_OBJECT.match(head) is not None


def is_manifest(path: Path) -> bool:
    """A bulk-data ``$export`` manifest saved beside the ndjson files (``transactionTime``,
    ``output``): it lists the files and holds no resources, so a folder import passes it by."""
    try:
        doc = json.loads(path.read_bytes()[: 16 * 1024 * 1024])
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and "transactionTime" in doc and "output" in doc


# -- sources --------------------------------------------------------------------------------
def sources(
    items: Iterable[str | Any | tuple[str, bytes]], limits: rd.ImportLimits = rd.DEFAULT_LIMITS
) -> list[rd.Source]:
    """``read.sources`` that also takes ``.json`` / ``.ndjson`` files and folders holding them
    (a FHIR bulk export): ndjson files from a path stay on disk until they are read."""
    out: list[rd.Source] = []
    for item in items:
        if isinstance(item, tuple):
            out.extend(rd.sources([item], limits))
            continue
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file())
            fhir = [
                f
                for f in files
                if f.suffix.lower() == ".ndjson"
                or (f.suffix.lower() == ".json" and not is_manifest(f))
            ]
            if not fhir:
                out.extend(rd.sources([p], limits))
                continue
            tables = [f for f in files if f.suffix.lower() in {".csv", ".tsv", ".txt", ".xlsx"}]
            for f in sorted(fhir + tables):
                out.extend(_file_sources(f, limits))
            continue
        out.extend(_file_sources(p, limits))
    return out


def _file_sources(p: Path, limits: rd.ImportLimits) -> list[rd.Source]:
    if p.suffix.lower() != ".ndjson" or not p.is_file():
        return rd.sources([p], limits)
    size = p.stat().st_size
    if size > limits.max_bytes:
        raise rd._too_big(p.name, size, limits)
    return [StreamedSource(name=p.name, data=b"", path=str(p), size=size)]


# -- resources ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One resource (or one line that is not a resource) with its row number."""

    row: int
    resource: dict[str, Any] | None
    problem: str | None = None
    skip: str | None = None


def entries(src: rd.Source, limits: rd.ImportLimits = rd.DEFAULT_LIMITS) -> Iterator[Entry]:
    """The resources of one FHIR file, one at a time (a generator)."""
    with _open(src) as fh:
        first = _first_line(fh)
        if first is None:
            raise IngestError(src.name, "the file is empty", "export the data again and check it")
        try:
            one = json.loads(first)
        except (ValueError, RecursionError):
            one = None
        if isinstance(one, dict) and _more_lines(fh):
            fh.seek(0)
            yield from _ndjson(src, fh, limits)
            return
    yield from _document(src, limits)


def _first_line(fh: IO[bytes]) -> bytes | None:
    while True:
        line = fh.readline(MAX_LINE_BYTES)
        if not line:
            return None
        if line.strip(b"\xef\xbb\xbf \t\r\n"):
            return line.lstrip(b"\xef\xbb\xbf")


def _more_lines(fh: IO[bytes]) -> bool:
    while True:
        line = fh.readline(MAX_LINE_BYTES)
        if not line:
            return False
        if line.strip():
            return True


def _ndjson(src: rd.Source, fh: IO[bytes], limits: rd.ImportLimits) -> Iterator[Entry]:
    n = rows = 0
    while True:
        line = fh.readline(MAX_LINE_BYTES)
        if not line:
            return
        n += 1
        if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := fh.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # the rest of an over-long line
            rows += 1
            yield Entry(n, None, f"the line is longer than {MAX_LINE_BYTES:,} bytes")
            continue
        text = line.lstrip(b"\xef\xbb\xbf") if n == 1 else line
        if not text.strip():
            continue
        rows += 1
        if rows > limits.max_rows:
            raise rd._too_many_rows(src.name, limits)
        yield _entry(n, text)


def _entry(n: int, text: bytes) -> Entry:
    try:
        obj = json.loads(text)
    except UnicodeDecodeError:
        return Entry(n, None, "not UTF-8 text (FHIR JSON is UTF-8)")
    except json.JSONDecodeError as e:
        return Entry(n, None, f"not valid JSON ({e.msg} at column {e.colno})")
    except (ValueError, RecursionError):
        return Entry(n, None, "not valid JSON (nested too deeply)")
    return _checked(n, obj)


def _checked(n: int, obj: Any) -> Entry:
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceType"), str):
        return Entry(n, None, "not a FHIR resource (a JSON object with a resourceType)")
    return Entry(n, obj)


def _document(src: rd.Source, limits: rd.ImportLimits) -> Iterator[Entry]:
    if isinstance(src, StreamedSource):
        with src.open() as fh:
            data = fh.read()
    else:
        data = src.data
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise IngestError(
            src.name, "the file is not UTF-8 text (FHIR JSON is UTF-8)", "export it again"
        ) from None
    except json.JSONDecodeError as e:
        raise IngestError(
            src.name,
            f"the file is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
            "export it again from the EHR; a file cut short (an interrupted download) "
            "ends in the middle of a resource",
        ) from None
    except (ValueError, RecursionError):
        raise IngestError(
            src.name, "the file is not valid JSON (nested too deeply)", "export it again"
        ) from None
    del data
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        raise IngestError(
            src.name,
            "this is JSON but not FHIR (no resourceType)",
            "export FHIR R4 JSON (a Bundle or bulk-export .ndjson files), or the data as CSV",
        )
    if doc["resourceType"] != "Bundle":
        yield Entry(1, doc)
        return
    entry = doc.get("entry") or []
    if not isinstance(entry, list):
        raise IngestError(src.name, "the Bundle's entry is not a list", "export it again")
    if len(entry) > limits.max_rows:
        raise rd._too_many_rows(src.name, limits)
    for i, e in enumerate(entry, start=1):
        res = e.get("resource") if isinstance(e, dict) else None
        if res is None:
            yield Entry(i, None, skip="a Bundle entry without a resource: nothing to import")
        else:
            yield _checked(i, res)
