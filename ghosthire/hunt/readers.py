"""Turn exported log files into batches of JSON records for the engine, streaming, with line numbers.

Accepted: NDJSON, JSON arrays and single JSON documents (also `{"value": [...]}` Graph exports and
`{"records": [...]}` Azure Monitor exports), CSV, EVTX; any of them gzip-compressed. A record that is
not valid UTF-8 or not a JSON object is reported with its file and line, and the read goes on.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa

from ghosthire.errors import GhosthireError

# Under 4 MiB: numpy asks for transparent huge pages from 4 MiB up, and faulting in fresh huge pages
# (zeroing, compaction) costs more than the rest of the read.
CHUNK_BYTES = 2 * 1024 * 1024
BATCH_BYTES = 16 * 1024 * 1024
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

    def problem(self, file: str, line: int | None, reason: str) -> None:
        self.problems.append(Problem(file, line, reason))

    def sort(self) -> None:
        """Problems in input order (file, then line): a line that is not UTF-8 is found as its batch is
        read, a malformed one only when the engine's window of batches is parsed."""
        order = {file: index for index, file in enumerate(self.files)}
        self.problems.sort(key=lambda problem: (order.get(problem.file, len(order)), problem.line or 0))


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
    pending: list[_Lines] = []
    pending_bytes = 0
    next_line = 1
    position = 0
    with _open(path) as stream:
        for chunk, ends in _line_blocks(stream):
            lines = _chunk_lines(chunk, ends, next_line, position, str(path), report)
            next_line += len(ends)
            position += len(chunk)
            pending.append(lines)
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
            report.problem(file, first_line + index, f"not UTF-8 (byte {error.start + 1} of the line)")
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
