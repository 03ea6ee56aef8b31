"""Turn exported log files into batches of JSON records for the engine, streaming, with line numbers.

Accepted: NDJSON, JSON arrays, single and concatenated (pretty-printed) JSON documents (also
`{"value": [...]}` Graph exports and `{"records": [...]}` Azure Monitor exports), CSV, Zeek TSV logs, EVTX;
any of them gzip-compressed, with or without a UTF-8 byte order mark. Damage loses only what it touches:
a record that is not valid UTF-8, not JSON or not an object, a CSV row that does not parse, an EVTX chunk
that does not decode, a truncated gzip stream or EVTX file, an unreadable file or directory: each is
reported with its file and line (record or chunk where the format has no lines), and the read goes on.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Full, Queue
from typing import IO, Any

import numpy as np
import pyarrow as pa

from ghosthire.errors import GhosthireError

# Under 4 MiB: numpy asks for transparent huge pages from 4 MiB up, and faulting in fresh huge pages
# (zeroing, compaction) costs more than the rest of the read.
CHUNK_BYTES = 2 * 1024 * 1024
BATCH_BYTES = 16 * 1024 * 1024
EVTX_MAGIC = b"ElfFile\x00"
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
ZEEK_MAGIC = b"#separator "
WRAPPER_KEYS = ("value", "records", "Records", "events", "items")
SUFFIXES = (".json", ".ndjson", ".jsonl", ".log", ".csv", ".evtx", ".gz")


@dataclass(frozen=True)
class Problem:
    """A record (or file) the hunt could not read; the hunt goes on without it."""

    file: str
    line: int | None
    # What went wrong, worded the same for every record it happens to (the summary counts by it).
    kind: str
    # This record's particulars: the parser's error, a byte offset, a count.
    detail: str | None = None

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


@dataclass
class RecordBatch:
    """JSON texts of records from one file, with the line (or record) number of each and, for NDJSON,
    where each line starts in the (decompressed) file: a cited event is read back by seeking there."""

    file: str
    texts: pa.Array | pa.ChunkedArray
    numbers: pa.Array | pa.ChunkedArray
    byte_count: int
    starts: pa.Array | pa.ChunkedArray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def texts_at(self, positions: Iterable[int]) -> list[str]:
        """The texts at some positions (row-by-row: `take` on a chunked array copies whole chunks)."""
        chunks = self.texts.chunks if isinstance(self.texts, pa.ChunkedArray) else [self.texts]
        starts = np.cumsum([0] + [len(chunk) for chunk in chunks])
        found = []
        for position in positions:
            index = int(np.searchsorted(starts, position, side="right")) - 1
            found.append(chunks[index][position - int(starts[index])].as_py())
        return found


@dataclass
class ReadReport:
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, file: str, line: int | None, kind: str, detail: str | None = None) -> None:
        self.problems.append(Problem(file, line, kind, detail))

    def sort(self) -> None:
        """Problems in input order (file, then line): a line that is not UTF-8 is found as its batch is
        read, a malformed one only when the engine's window of batches is parsed."""
        order = {file: index for index, file in enumerate(self.files)}
        self.problems.sort(key=lambda problem: (order.get(problem.file, len(order)), problem.line or 0))


def input_files(paths: Iterable[Path], report: ReadReport | None = None) -> list[Path]:
    """Files named directly, plus the log files found under directories, in a stable order. A directory
    that cannot be listed is reported (when a report is given) and the walk goes on."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(_files_under(path, report))
        elif path.exists():
            found.append(path)
        else:
            raise GhosthireError(f"{path}: no such file or directory")
    return found


def _files_under(directory: Path, report: ReadReport | None) -> list[Path]:
    def unreadable(error: OSError) -> None:
        if report is not None:
            report.problem(str(error.filename), None, "directory not read", error.strerror)

    found = []
    for root, directories, files in os.walk(directory, onerror=unreadable):
        directories.sort()
        found.extend(Path(root) / name for name in files if _looks_like_log(Path(name)))
    return sorted(found)


def read_batches(paths: Iterable[Path], report: ReadReport) -> Iterator[RecordBatch]:
    """Every record of every file, in batches of about BATCH_BYTES of JSON text."""
    for path in input_files(paths, report):
        report.files.append(str(path))
        try:
            yield from _read_file(path, report)
        except (OSError, EOFError, ValueError, RuntimeError) as error:
            report.problem(str(path), None, "file not read", _one_line(error))


@contextmanager
def prefetched(batches: Iterator[RecordBatch], depth: int = 1) -> Iterator[Iterator[RecordBatch]]:
    """The batches, read on a background thread up to `depth` ahead of the consumer from the moment the
    context opens: reading (file, newline scan, UTF-8 check) then overlaps compiling the rules and the
    engine's parsing, as file reads, numpy and DuckDB release the GIL. Leaving the context stops it."""
    queue: Queue[tuple[RecordBatch | None, BaseException | None]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[RecordBatch | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put((batch, None)):
                    return
            put((None, None))
        except BaseException as error:  # handed to the consumer, which raises it
            put((None, error))

    def consume() -> Iterator[RecordBatch]:
        while True:
            batch, error = queue.get()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch

    threading.Thread(target=produce, name="ghosthire-reader", daemon=True).start()
    try:
        yield consume()
    finally:
        stop.set()


def _looks_like_log(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith(".") and any(name.endswith(suffix) for suffix in SUFFIXES)


class _Stream(io.RawIOBase):
    """A file's bytes, gunzipped when compressed (every gzip member), after any UTF-8 byte order mark.
    Damaged compressed data (cut short, corrupt, followed by garbage) reads as its end after everything
    that could be recovered before it; `damage` then says what was wrong. Seeking backwards in a
    compressed file reads it again from the start."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        self._compressed = self._file.read(2) == GZIP_MAGIC
        self.damage: str | None = None
        self._restart()
        if self.read(len(UTF8_BOM)) != UTF8_BOM:
            self.seek(0)

    def _restart(self) -> None:
        self._file.seek(0)
        self._position = 0
        self._output = b""
        self._input = b""
        self._inflater = zlib.decompressobj(wbits=31)
        self._ended = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._compressed:
            count = self._file.readinto(buffer)
        else:
            while not self._output and not self._ended:
                self._output = self._inflate()
            count = min(len(buffer), len(self._output))
            buffer[:count] = self._output[:count]
            self._output = self._output[count:]
        self._position += count
        return count

    def _inflate(self) -> bytes:
        if self._inflater.eof:
            self._next_member()
            return b""
        data = self._input or self._file.read(CHUNK_BYTES)
        if not data:
            self._end("compressed data cut short (the gzip stream has no end)")
            return b""
        try:
            output = self._inflater.decompress(data, CHUNK_BYTES)
        except zlib.error as error:
            self._end(f"compressed data corrupt ({error})")
            return b""
        self._input = self._inflater.unconsumed_tail
        return output

    def _next_member(self) -> None:
        """After a gzip member: another member, zero padding (which gzip allows) or garbage."""
        rest = self._inflater.unused_data.lstrip(b"\x00")
        while len(rest) < 2:
            more = self._file.read(CHUNK_BYTES)
            if not more:
                break
            rest += more.lstrip(b"\x00") if not rest else more
        if not rest:
            self._ended = True
        elif rest.startswith(GZIP_MAGIC):
            self._inflater = zlib.decompressobj(wbits=31)
            self._input = rest
        else:
            self._end("bytes after the end of the compressed data are not gzip")

    def _end(self, damage: str) -> None:
        self.damage = damage
        self._ended = True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only absolute positions")
        if not self._compressed:
            self._position = self._file.seek(offset)
            return self._position
        if offset < self._position:
            self._restart()
        while self._position < offset and self.read(min(offset - self._position, CHUNK_BYTES)):
            pass
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._file.close()
        super().close()


def _open(path: Path) -> _Stream:
    return _Stream(path)


def _report_damage(stream: _Stream, file: str, line: int, report: ReadReport) -> None:
    if stream.damage:
        report.problem(file, line, f"{stream.damage}: the file is read up to here, the rest is lost")


def _read_file(path: Path, report: ReadReport) -> Iterator[RecordBatch]:
    with _open(path) as stream:
        head = stream.read(4096)
    text_start = head.lstrip()[:1]
    if head.startswith(EVTX_MAGIC):
        yield from _batched(str(path), _evtx_records(path, report))
    elif head.startswith(ZEEK_MAGIC):
        yield from _batched(str(path), _zeek_records(path, report))
    elif text_start == b"[" or (text_start == b"{" and _is_single_document(head)):
        yield from _batched(str(path), _document_records(path, report))
    elif text_start == b"{":
        yield from _ndjson_batches(path, report)
    elif path.name.lower().removesuffix(".gz").endswith(".csv"):
        yield from _batched(str(path), _csv_records(path, report))
    elif head.strip():
        report.problem(str(path), None, "file not read: not JSON, NDJSON, CSV, Zeek or EVTX")


def _is_single_document(head: bytes) -> bool:
    """A pretty-printed JSON object spans lines; an NDJSON file's first line is a whole object."""
    first_line = head.split(b"\n", 1)[0].strip()
    try:
        json.loads(first_line)
    except ValueError:
        return True
    return False


def _ndjson_batches(path: Path, report: ReadReport) -> Iterator[RecordBatch]:
    """NDJSON without a Python object per line: newline offsets over raw chunks, UTF-8 checked by Arrow.
    A batch keeps its chunks as they are (no concatenation: copying 128 MB of text costs more than
    everything else the reader does)."""
    pending: list[_Lines] = []
    pending_bytes = 0
    next_line = 1
    with _open(path) as stream:
        position = stream.tell()  # after a byte order mark: where the first line starts
        for chunk, ends in _line_blocks(stream):
            lines = _chunk_lines(chunk, ends, next_line, position, str(path), report)
            next_line += len(ends)
            position += len(chunk)
            pending.append(lines)
            pending_bytes += len(chunk)
            if pending_bytes >= BATCH_BYTES:
                yield _join(str(path), pending, pending_bytes)
                pending, pending_bytes = [], 0
        _report_damage(stream, str(path), max(next_line - 1, 1), report)
    if pending:
        yield _join(str(path), pending, pending_bytes)


def _line_blocks(stream: IO[bytes]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blocks of whole lines with the offset of each line's end, each block read straight into its own
    buffer (the Arrow arrays keep it) and scanned for newlines once."""
    carry = np.empty(0, np.uint8)
    newlines = np.empty(0, bool)  # reused: a fresh mask per block costs more in page faults
    while True:
        block = np.empty(len(carry) + CHUNK_BYTES, np.uint8)
        block[: len(carry)] = carry
        size = len(carry) + (stream.readinto(memoryview(block)[len(carry) :]) or 0)
        if size == len(carry):
            break
        if len(newlines) < size:
            newlines = np.empty(len(block), bool)
        ends = np.flatnonzero(np.equal(block[:size], 10, out=newlines[:size])) + 1
        cut = int(ends[-1]) if len(ends) else 0
        carry = block[cut:size].copy()
        if cut:
            yield block[:cut], ends
    if len(carry):
        yield carry, np.array([len(carry)], np.int64)


@dataclass(frozen=True)
class _Lines:
    """One block's lines: texts, line numbers and where each starts in the file."""

    texts: pa.Array
    numbers: pa.Array
    starts: pa.Array


def _chunk_lines(
    chunk: np.ndarray, ends: np.ndarray, first_line: int, position: int, file: str, report: ReadReport
) -> _Lines:
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    texts = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(chunk))
    numbers = pa.array(np.arange(first_line, first_line + len(ends), dtype=np.int64))
    try:
        texts.validate(full=True)
    except pa.ArrowInvalid:
        texts = _without_invalid_utf8(chunk.tobytes(), offsets, first_line, file, report)
    return _Lines(texts, numbers, pa.array(offsets[:-1] + position))


def _without_invalid_utf8(
    chunk: bytes, offsets: np.ndarray, first_line: int, file: str, report: ReadReport
) -> pa.Array:
    """The slow path, only for a chunk that holds bad bytes: blank out and report each bad line."""
    lines: list[str] = []
    for index in range(len(offsets) - 1):
        raw = chunk[offsets[index] : offsets[index + 1]]
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            report.problem(file, first_line + index, "not UTF-8", f"byte {error.start + 1} of the line")
            lines.append("")
    return pa.array(lines, pa.large_string())


def _join(file: str, parts: list[_Lines], byte_count: int) -> RecordBatch:
    return RecordBatch(
        file,
        pa.chunked_array([part.texts for part in parts], pa.large_string()),
        pa.chunked_array([part.numbers for part in parts], pa.int64()),
        byte_count,
        pa.chunked_array([part.starts for part in parts], pa.int64()),
    )


def _batched(file: str, records: Iterator[tuple[int, str]]) -> Iterator[RecordBatch]:
    texts: list[str] = []
    numbers: list[int] = []
    size = 0
    for number, text in records:
        texts.append(text)
        numbers.append(number)
        size += len(text)
        if size >= BATCH_BYTES // 4:
            yield RecordBatch(file, pa.array(texts, pa.large_string()), pa.array(numbers, pa.int64()), size)
            texts, numbers, size = [], [], 0
    if texts:
        yield RecordBatch(file, pa.array(texts, pa.large_string()), pa.array(numbers, pa.int64()), size)


def _document_records(path: Path, report: ReadReport) -> Iterator[tuple[int, str]]:
    """A JSON array, a wrapper document, or JSON objects one after another (pretty-printed or not). A
    value that does not parse is reported on the line where it starts, and reading resumes at the next
    value that starts a line (or follows a `},` on the same one); records are numbered in file order."""
    file = str(path)
    with _open(path) as stream:
        text = _decoded(stream.read(), file, report)
    start = _skip_separators(text, 0)
    values: Iterable[tuple[int, Any]]
    if text.startswith("[", start):
        values = _json_values(text, file, report, start + 1, array=True)
    else:
        values = list(_json_values(text, file, report, start, array=False))
        if len(values) == 1:
            values = _unwrap(*values[0])
    for number, (line, record) in enumerate(values, start=1):
        if isinstance(record, dict):
            yield number, json.dumps(record)
        else:
            report.problem(file, line, "not a JSON object", f"record {number}")
    _report_damage(stream, file, text.count("\n") + 1, report)


def _decoded(raw: bytes, file: str, report: ReadReport, line: int | None = None) -> str:
    """UTF-8 text; invalid bytes are replaced and reported on their line (`line`: the text is one line)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        where = line if line is not None else raw.count(b"\n", 0, error.start) + 1
        report.problem(file, where, "not UTF-8: the invalid bytes are replaced")
        return raw.decode("utf-8", errors="replace")


_DECODER = json.JSONDecoder()
# Where a damaged value's successor may start: a `{` or `[` first on its line, or an object after `},`.
_RESYNC = re.compile(r"\n[ \t]*[\[{]|\}[ \t]*,[ \t]*(?=\{)")


def _json_values(
    text: str, file: str, report: ReadReport, start: int, *, array: bool
) -> Iterator[tuple[int, Any]]:
    """(line, value) of each JSON value in `text` from `start`, separated by whitespace (and commas in
    an array, which ends at its `]`)."""
    position = start
    while True:
        position = _skip_separators(text, position, "," if array else "")
        if position >= len(text) or (array and text[position] == "]"):
            return
        line = text.count("\n", 0, position) + 1
        try:
            value, position = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError) as error:
            report.problem(file, line, "invalid JSON", _one_line(error) or "nested too deeply")
            resync = _RESYNC.search(text, position + 1)
            if resync is None:
                return
            position = resync.end() - 1 if resync.group().startswith("\n") else resync.end()
            continue
        yield line, value


def _skip_separators(text: str, position: int, extra: str = "") -> int:
    while position < len(text) and (text[position].isspace() or text[position] in extra):
        position += 1
    return position


def _unwrap(line: int, document: Any) -> list[tuple[int, Any]]:
    if isinstance(document, dict):
        for key in WRAPPER_KEYS:
            if isinstance(document.get(key), list):
                return [(line, item) for item in document[key]]
    return [(line, document)]


def _csv_records(path: Path, report: ReadReport) -> Iterator[tuple[int, str]]:
    """CSV with a header row naming the fields (dotted names are flattened paths); empty cells are null.
    A row that does not parse (an unterminated quote swallows the rest of the file) or has the wrong
    number of cells is reported on its line, and reading resumes on the line after it."""
    file = str(path)
    with _open(path) as stream:
        lines = _TextLines(stream, file, report)
        header = next(csv.reader([lines.next_line() or ""]))
        while lines.remaining():
            start = lines.number + 1
            lines.mark()
            try:
                row = next(csv.reader(lines, strict=True))
            except StopIteration:
                break
            except csv.Error as error:
                report.problem(file, start, "malformed CSV row", _one_line(error))
                lines.rewind_after_first()
                continue
            if len(row) != len(header):
                if any(row):
                    report.problem(
                        file, start, "malformed CSV row", f"{len(row)} cells, the header has {len(header)}"
                    )
                continue
            yield start, json.dumps({name: cell or None for name, cell in zip(header, row, strict=True)})
        _report_damage(stream, file, lines.number, report)


class _TextLines:
    """A stream's lines as text, numbered, with a replay of the lines read since `mark` (a CSV row with
    an unterminated quote reads to the end of the file; the lines after its first are read again)."""

    def __init__(self, stream: _Stream, file: str, report: ReadReport) -> None:
        self._stream = io.BufferedReader(stream)
        self._file, self._report = file, report
        self._replay: list[str] = []
        self._since_mark: list[str] = []
        self.number = 0

    def next_line(self) -> str | None:
        if self._replay:
            line = self._replay.pop()
        else:
            raw = self._stream.readline()
            if not raw:
                return None
            line = _decoded(raw, self._file, self._report, self.number + 1)
        self.number += 1
        self._since_mark.append(line)
        return line

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.next_line()
        if line is None:
            raise StopIteration
        return line

    def remaining(self) -> bool:
        if self._replay:
            return True
        return bool(self._stream.peek(1))

    def mark(self) -> None:
        self._since_mark = []

    def rewind_after_first(self) -> None:
        replayed = self._since_mark[1:]
        self.number -= len(replayed)
        self._replay.extend(reversed(replayed))
        self._since_mark = []


def _zeek_records(path: Path, report: ReadReport) -> Iterator[tuple[int, str]]:
    """Zeek's TSV logs: `#fields` and `#types` headers, `-` unset, `(empty)` empty, sets and vectors split
    on `#set_separator`; timestamps written as Zeek's JSON writer writes them (ISO 8601, UTC)."""
    file = str(path)
    header = _ZeekHeader()
    number = 0
    with _open(path) as stream:
        for number, raw in enumerate(io.BufferedReader(stream), start=1):
            text = _decoded(raw, file, report, number).rstrip("\r\n")
            if text.startswith("#"):
                header.read(text)
                continue
            if not text:
                continue
            cells = text.split(header.separator)
            if len(cells) != len(header.fields):
                report.problem(
                    file,
                    number,
                    "malformed Zeek row",
                    f"{len(cells)} cells, #fields has {len(header.fields)}",
                )
                continue
            try:
                record = header.record(cells)
            except ValueError as error:
                report.problem(file, number, "malformed Zeek value", _one_line(error))
                continue
            yield number, json.dumps(record)
        _report_damage(stream, file, max(number, 1), report)


@dataclass
class _ZeekHeader:
    separator: str = "\t"
    set_separator: str = ","
    empty: str = "(empty)"
    unset: str = "-"
    path: str | None = None
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def read(self, line: str) -> None:
        if line.startswith("#separator "):
            self.separator = line.split(" ", 1)[1].encode().decode("unicode_escape")
            return
        key, _, value = line[1:].partition(self.separator)
        if key == "fields":
            self.fields = value.split(self.separator)
        elif key == "types":
            self.types = value.split(self.separator)
        elif key == "set_separator":
            self.set_separator = value
        elif key == "empty_field":
            self.empty = value
        elif key == "unset_field":
            self.unset = value
        elif key == "path":
            self.path = value

    def record(self, cells: list[str]) -> dict[str, Any]:
        record: dict[str, Any] = {"_path": self.path} if self.path else {}
        types = self.types or ["string"] * len(self.fields)
        for name, kind, cell in zip(self.fields, types, cells, strict=False):
            if cell == self.unset:
                continue
            if kind.startswith(("set[", "vector[")):
                inner = kind[kind.index("[") + 1 : -1]
                record[name] = (
                    []
                    if cell == self.empty
                    else [_zeek_value(inner, part) for part in cell.split(self.set_separator)]
                )
            else:
                record[name] = "" if cell == self.empty else _zeek_value(kind, cell)
        return record


def _zeek_value(kind: str, cell: str) -> Any:
    if kind == "time":
        return (
            datetime.fromtimestamp(float(cell), UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        )
    if kind in ("count", "int", "port"):
        return int(cell)
    if kind in ("double", "interval"):
        return float(cell)
    if kind == "bool":
        return cell == "T"
    return cell


# EVTX file header: chunk count at byte 42; the header block and each chunk have a fixed size.
EVTX_HEADER_BYTES = 4096
EVTX_CHUNK_BYTES = 65536
_EVTX_RECORD_IDS = re.compile(r"record IDs (\d+)")


def _evtx_records(path: Path, report: ReadReport) -> Iterator[tuple[int, str]]:
    """Every record of every chunk that decodes; a chunk that does not is reported with its first
    record id, and a file cut short with the last record read."""
    from evtx import PyEvtxParser

    file = str(path)
    last = 0
    records = iter(PyEvtxParser(file).records_json())
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except (RuntimeError, OSError, ValueError) as error:
            found = _EVTX_RECORD_IDS.search(str(error))
            line = int(found.group(1)) if found else None
            report.problem(file, line, "EVTX chunk not decoded, its records are lost", _one_line(error))
            continue
        number = int(record.get("event_record_id") or 0)
        last = max(last, number)
        yield number, record["data"]
    _report_truncated_evtx(path, last, report)


def _report_truncated_evtx(path: Path, last_record: int, report: ReadReport) -> None:
    with path.open("rb") as stream:
        header = stream.read(EVTX_HEADER_BYTES)
    if len(header) < 44:
        report.problem(str(path), None, "EVTX file cut short inside its header")
        return
    (chunks,) = struct.unpack_from("<H", header, 42)
    present = (path.stat().st_size - EVTX_HEADER_BYTES) / EVTX_CHUNK_BYTES
    if present < chunks:
        after = f" after record {last_record}" if last_record else ""
        report.problem(
            str(path),
            last_record + 1 if last_record else None,
            "EVTX file cut short",
            f"{max(present, 0):.1f} of {chunks} chunks present, records{after} are lost",
        )


def _one_line(error: object) -> str:
    return " ".join(str(error).split())[:300]


# Lines wanted from each file: line number -> where the line starts (None: unknown, read the file again).
WantedLines = dict[str, dict[int, int | None]]


def read_records(wanted: WantedLines) -> dict[tuple[str, int], str]:
    """The text of chosen records, read again from their files: (file, line) -> JSON text. NDJSON lines
    are read where they start; records of other layouts by reading the file again."""
    found: dict[tuple[str, int], str] = {}
    for file, lines in wanted.items():
        starts = {line: start for line, start in lines.items() if start is not None}
        found.update(_read_lines_at(file, starts) if len(starts) == len(lines) else _reread(file, set(lines)))
    return found


def _read_lines_at(file: str, starts: dict[int, int]) -> dict[tuple[str, int], str]:
    found = {}
    with _open(Path(file)) as stream:
        # In file order: a gzip stream only seeks forward cheaply.
        for line, start in sorted(starts.items(), key=lambda item: item[1]):
            stream.seek(start)
            found[(file, line)] = stream.readline().decode("utf-8")
    return found


def _reread(file: str, lines: set[int]) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    wanted_numbers = np.fromiter(lines, np.int64)
    remaining = len(lines)
    for batch in _read_file(Path(file), ReadReport()):
        numbers = batch.numbers.to_numpy()
        positions = np.flatnonzero(np.isin(numbers, wanted_numbers))
        texts = batch.texts_at(int(p) for p in positions)
        found.update(((file, int(numbers[p])), text) for p, text in zip(positions, texts, strict=True))
        remaining -= len(positions)
        if remaining <= 0:
            break
    return found


def batches_from_events(texts: list[str], name: str = "<events>") -> Iterator[RecordBatch]:
    """Records given as JSON texts (tests, API callers) as one batch, numbered from 1."""
    if texts:
        yield RecordBatch(
            name, pa.array(texts, pa.large_string()), pa.array(range(1, len(texts) + 1), pa.int64()), 0
        )
