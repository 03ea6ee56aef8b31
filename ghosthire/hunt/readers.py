"""Turn exported log files into batches of JSON records for the engine, streaming, with line numbers.

Accepted: NDJSON, JSON arrays and single JSON documents (also `{"value": [...]}` Graph exports and
`{"records": [...]}` Azure Monitor exports), CSV, EVTX; any of them gzip-compressed. A record that is
not valid UTF-8 or not a JSON object is reported with its file and line, and the read goes on.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa

from ghosthire.errors import GhosthireError

CHUNK_BYTES = 16 * 1024 * 1024
BATCH_BYTES = 128 * 1024 * 1024
EVTX_MAGIC = b"ElfFile\x00"
GZIP_MAGIC = b"\x1f\x8b"
WRAPPER_KEYS = ("value", "records", "Records", "events", "items")
SUFFIXES = (".json", ".ndjson", ".jsonl", ".log", ".csv", ".evtx", ".gz")


@dataclass(frozen=True)
class Problem:
    """A record (or file) the hunt could not read; the hunt goes on without it."""

    file: str
    line: int | None
    reason: str


@dataclass
class RecordBatch:
    """JSON texts of records from one file, with the line (or record) number of each."""

    file: str
    texts: pa.Array | pa.ChunkedArray
    numbers: pa.Array | pa.ChunkedArray
    byte_count: int

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

    def problem(self, file: str, line: int | None, reason: str) -> None:
        self.problems.append(Problem(file, line, reason))


def input_files(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus the log files found under directories, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and _looks_like_log(p)))
        elif path.is_file():
            found.append(path)
        else:
            raise GhosthireError(f"{path}: no such file or directory")
    return found


def read_batches(paths: Iterable[Path], report: ReadReport) -> Iterator[RecordBatch]:
    """Every record of every file, in batches of about BATCH_BYTES of JSON text."""
    for path in input_files(paths):
        report.files.append(str(path))
        try:
            yield from _read_file(path, report)
        except (OSError, EOFError, duckdb.Error, ValueError) as error:
            report.problem(str(path), None, f"file not read: {_one_line(error)}")


def _looks_like_log(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith(".") and any(name.endswith(suffix) for suffix in SUFFIXES)


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _read_file(path: Path, report: ReadReport) -> Iterator[RecordBatch]:
    with _open(path) as stream:
        head = stream.read(4096)
    text_start = head.lstrip()[:1]
    if head.startswith(EVTX_MAGIC):
        yield from _batched(str(path), _evtx_records(path, report))
    elif text_start == b"[" or (text_start == b"{" and _is_single_document(head)):
        yield from _batched(str(path), _document_records(path, report))
    elif text_start == b"{":
        yield from _ndjson_batches(path, report)
    elif path.name.lower().removesuffix(".gz").endswith(".csv"):
        yield from _batched(str(path), _csv_records(path, report))
    elif head.strip():
        report.problem(str(path), None, "file not read: not JSON, NDJSON, CSV or EVTX")


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
    pending: list[tuple[pa.Array, pa.Array]] = []
    pending_bytes = 0
    next_line = 1
    with _open(path) as stream:
        for chunk, ends in _line_blocks(stream):
            texts, numbers = _chunk_lines(chunk, ends, next_line, str(path), report)
            next_line += len(texts)
            pending.append((texts, numbers))
            pending_bytes += len(chunk)
            if pending_bytes >= BATCH_BYTES:
                yield _join(str(path), pending, pending_bytes)
                pending, pending_bytes = [], 0
    if pending:
        yield _join(str(path), pending, pending_bytes)


def _line_blocks(stream: IO[bytes]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blocks of whole lines with the offset of each line's end, each block read straight into its own
    buffer (the Arrow arrays keep it) and scanned for newlines once."""
    carry = np.empty(0, np.uint8)
    newlines = np.empty(0, bool)  # reused: a fresh 16 MB mask per block costs more in page faults
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


def _chunk_lines(
    chunk: np.ndarray, ends: np.ndarray, first_line: int, file: str, report: ReadReport
) -> tuple[pa.Array, pa.Array]:
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    texts = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(chunk))
    numbers = pa.array(np.arange(first_line, first_line + len(ends), dtype=np.int64))
    try:
        texts.validate(full=True)
    except pa.ArrowInvalid:
        texts = _without_invalid_utf8(chunk.tobytes(), offsets, first_line, file, report)
    return texts, numbers


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
            report.problem(file, first_line + index, f"not UTF-8 (byte {error.start + 1} of the line)")
            lines.append("")
    return pa.array(lines, pa.large_string())


def _join(file: str, parts: list[tuple[pa.Array, pa.Array]], byte_count: int) -> RecordBatch:
    texts = pa.chunked_array([texts for texts, _ in parts], pa.large_string())
    numbers = pa.chunked_array([numbers for _, numbers in parts], pa.int64())
    return RecordBatch(file, texts, numbers, byte_count)


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
    with _open(path) as stream:
        try:
            document = json.load(stream)
        except (ValueError, UnicodeDecodeError) as error:
            report.problem(
                str(path), getattr(error, "lineno", None), f"file not read: invalid JSON ({error})"
            )
            return
    records = _unwrap(document)
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield number, json.dumps(record)
        else:
            report.problem(str(path), number, "record is not a JSON object")


def _unwrap(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in WRAPPER_KEYS:
            if isinstance(document.get(key), list):
                return document[key]
    return [document]


def _csv_records(path: Path, report: ReadReport) -> Iterator[tuple[int, str]]:
    """CSV through DuckDB: header row names the fields (dotted names are flattened paths)."""
    connection = duckdb.connect()
    relation = connection.sql(
        "SELECT to_json(t)::VARCHAR FROM read_csv(?, header = true, all_varchar = true, "
        "ignore_errors = true, store_rejects = true) t",
        params=[str(path)],
    )
    for number, (text,) in enumerate(relation.fetchall(), start=2):
        yield number, text
    for line, message in connection.sql("SELECT line, error_message FROM reject_errors").fetchall():
        report.problem(str(path), int(line), f"malformed CSV row: {_one_line(message)}")


def _evtx_records(path: Path, report: ReadReport) -> Iterator[tuple[int, str]]:
    from evtx import PyEvtxParser

    for record in PyEvtxParser(str(path)).records_json():
        number = int(record.get("event_record_id") or 0)
        if isinstance(record, dict) and "data" in record:
            yield number, record["data"]
        else:
            report.problem(str(path), number or None, "EVTX record could not be decoded")


def _one_line(error: object) -> str:
    return " ".join(str(error).split())[:300]


def read_records(wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """The text of chosen records, read again from their files: (file, line) -> JSON text."""
    found: dict[tuple[str, int], str] = {}
    for file, lines in wanted.items():
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
