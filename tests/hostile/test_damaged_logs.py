"""A corpus of damaged logs: every good record is read, every bad one reported once with its file and the
finest position its format allows (line, record or chunk), and the other files of the hunt are kept."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.hunt.readers import ReadReport, read_batches

SAMPLES = "shared/data/public-samples/evtx-attack-samples"
PUBLIC_EVTX = (
    next(
        (folder / SAMPLES for folder in Path(__file__).resolve().parents if (folder / SAMPLES).is_dir()),
        Path(),
    )
    / "DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx"
)
EVTX_HEADER, EVTX_CHUNK = 4096, 65536


def _event(number: int) -> dict[str, object]:
    return {
        "eventType": "user.session.start",
        "actor": {"alternateId": f"user{number}@corp.example", "displayName": f"User {number}"},
        "client": {"ipAddress": f"198.51.100.{number}", "userAgent": {"rawUserAgent": f"agent/{number * 7}"}},
        "published": f"2025-06-01T10:{number:02d}:00Z",
    }


EVENTS = [_event(number) for number in range(1, 41)]
NDJSON = "".join(json.dumps(event) + "\n" for event in EVENTS)
CSV_ROWS = ["eventType,actor.alternateId,published"] + [
    f"user.session.start,user{n}@corp.example,2025-06-01T10:{n:02d}:00Z" for n in range(1, 11)
]


def _with_line(lines: list[str], number: int, text: str) -> str:
    """The lines with line `number` (1-based) replaced, joined as a file."""
    changed = list(lines)
    changed[number - 1] = text
    return "\n".join(changed) + "\n"


def _truncated_gzip(text: str) -> bytes:
    packed = gzip.compress(text.encode())
    return packed[: len(packed) * 3 // 4]


# name -> (file content, records read, [(line, part of the reason)])
CORPUS: dict[str, tuple[Callable[[], bytes], int, list[tuple[int | None, str]]]] = {
    "bom.ndjson": (lambda: b"\xef\xbb\xbf" + NDJSON.encode(), 40, []),
    "bom.csv": (lambda: b"\xef\xbb\xbf" + "\n".join(CSV_ROWS).encode(), 10, []),
    "trailing-garbage.ndjson.gz": (
        lambda: gzip.compress(NDJSON.encode()) + b"not gzip at all",
        40,
        [(40, "not gzip")],
    ),
    "two-members.ndjson.gz": (
        lambda: gzip.compress(NDJSON.encode()) + gzip.compress(NDJSON.encode()),
        80,
        [],
    ),
    "array-one-bad-element.json": (
        lambda: json.dumps(EVENTS[:5], indent=2).replace('"User 3"', '"User 3" "stray"').encode(),
        4,
        [(30, "invalid JSON")],
    ),
    "array-one-line.json": (
        lambda: json.dumps(EVENTS[:5]).replace('"User 3"', '"User 3" x').encode(),
        4,
        [(1, "invalid JSON")],
    ),
    "array-not-object.json": (
        lambda: json.dumps([EVENTS[0], 7, EVENTS[1]]).encode(),
        2,
        [(1, "not a JSON object: record 2")],
    ),
    "concatenated-pretty.json": (
        lambda: "".join(json.dumps(e, indent=2) + "\n" for e in EVENTS[:4]).encode(),
        4,
        [],
    ),
    "concatenated-one-bad.json": (
        lambda: (
            "".join(json.dumps(e, indent=2) + "\n" for e in EVENTS[:4])
            .replace('"User 2"', '"User 2",')
            .encode()
        ),
        3,
        [(15, "invalid JSON")],
    ),
    "graph-wrapper.json": (lambda: json.dumps({"value": EVENTS[:3]}, indent=1).encode(), 3, []),
    "unterminated-quote.csv": (
        lambda: _with_line(
            CSV_ROWS, 4, 'user.session.start,"user3@corp.example,2025-06-01T10:03:00Z'
        ).encode(),
        9,
        [(4, "malformed CSV row")],
    ),
    "ragged.csv": (
        lambda: _with_line(CSV_ROWS, 6, CSV_ROWS[5] + ",extra,cells").encode(),
        9,
        [(6, "5 cells")],
    ),
    "not-utf8.csv": (
        lambda: _with_line(CSV_ROWS, 3, CSV_ROWS[2] + "\xff").encode("latin-1"),
        10,
        [(3, "not UTF-8")],
    ),
}


def _read(path: Path) -> tuple[int, list[tuple[int | None, str]]]:
    report = ReadReport()
    records = sum(len(batch) for batch in read_batches([path], report))
    return records, [(problem.line, problem.reason) for problem in report.problems]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_damaged_file_loses_only_what_is_damaged(tmp_path: Path, name: str) -> None:
    content, expected_records, expected_problems = CORPUS[name]
    path = tmp_path / name
    path.write_bytes(content())
    records, problems = _read(path)
    assert records == expected_records
    assert len(problems) == len(expected_problems), problems
    for (line, reason), (expected_line, part) in zip(problems, expected_problems, strict=True):
        assert line == expected_line and part in reason, problems


def test_truncated_gzip_keeps_what_decompresses(tmp_path: Path) -> None:
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(_truncated_gzip(NDJSON))
    records, problems = _read(path)
    assert 0 < records < 40
    assert any("cut short" in reason and line and line >= records for line, reason in problems)


def test_truncated_gzip_csv_keeps_what_decompresses(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(_truncated_gzip("\n".join(CSV_ROWS * 20)))
    records, problems = _read(path)
    assert records > 0 and any("cut short" in reason for _, reason in problems)


ZEEK = """\
#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tssl
#fields\tts\tuid\tid.orig_h\tid.resp_p\tserver_name\testablished\tcert_chain_fps
#types\ttime\tstring\taddr\tport\tstring\tbool\tvector[string]
1521911721.258458\tCMwJl8\t10.164.94.120\t443\tpastebin.com\tT\ta,b
1521911722.000000\tC0aJtK\t10.164.94.121\t443\t-\tF\t(empty)
only\ttwo
#close\t2018-03-24-17-30-00
"""


def test_zeek_tsv_is_read_as_zeek_json_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "ssl.log"
    path.write_text(ZEEK)
    report = ReadReport()
    texts = [text for batch in read_batches([path], report) for text in batch.texts.to_pylist()]
    assert [json.loads(text) for text in texts] == [
        {
            "_path": "ssl",
            "ts": "2018-03-24T17:15:21.258458Z",
            "uid": "CMwJl8",
            "id.orig_h": "10.164.94.120",
            "id.resp_p": 443,
            "server_name": "pastebin.com",
            "established": True,
            "cert_chain_fps": ["a", "b"],
        },
        {
            "_path": "ssl",
            "ts": "2018-03-24T17:15:22.000000Z",
            "uid": "C0aJtK",
            "id.orig_h": "10.164.94.121",
            "id.resp_p": 443,
            "established": False,
            "cert_chain_fps": [],
        },
    ]
    assert [(problem.line, problem.reason) for problem in report.problems] == [
        (10, "malformed Zeek row: 2 cells, #fields has 7")
    ]


@pytest.mark.skipif(not PUBLIC_EVTX.is_file(), reason="shared public samples not present")
def test_damaged_evtx_keeps_every_readable_chunk_and_the_other_files(tmp_path: Path) -> None:
    data = PUBLIC_EVTX.read_bytes()
    corrupt = bytearray(data)
    second_chunk = EVTX_HEADER + EVTX_CHUNK
    corrupt[second_chunk + 600 : second_chunk + 1400] = b"\xaa" * 800
    (tmp_path / "a-corrupt-chunk.evtx").write_bytes(bytes(corrupt))
    (tmp_path / "b-cut-short.evtx").write_bytes(data[: second_chunk + 30000])
    (tmp_path / "c-okta.ndjson").write_text(NDJSON)
    report = ReadReport()
    records = sum(len(batch) for batch in read_batches([tmp_path], report))
    assert records == 128 + 128 + 40
    assert [(Path(p.file).name, p.line, p.kind) for p in report.problems] == [
        ("a-corrupt-chunk.evtx", 129, "EVTX chunk not decoded, its records are lost"),
        ("b-cut-short.evtx", 129, "EVTX file cut short"),
    ]


@contextmanager
def _unprivileged() -> Iterator[None]:
    """Permissions mean nothing to root: drop the effective uid for the block when running as root."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_unreadable_file_and_directory_are_reported_and_the_rest_read() -> None:
    root = Path(tempfile.mkdtemp(prefix="ghosthire-perm-"))
    try:
        root.chmod(0o755)
        (root / "good.ndjson").write_text(NDJSON)
        (root / "good.ndjson").chmod(0o644)
        (root / "locked.ndjson").write_text(NDJSON)
        (root / "locked.ndjson").chmod(0)
        (root / "closed").mkdir(mode=0)
        _register()
        hunt = ["hunt", "--format", "jsonl"]
        assert CliRunner().invoke(cli, [*hunt, str(root / "good.ndjson")]).exit_code == 0  # imports all
        with _unprivileged():
            report = ReadReport()
            records = sum(len(batch) for batch in read_batches([root], report))
            result = CliRunner().invoke(cli, [*hunt, str(root / "locked.ndjson")])
        assert records == 40
        assert sorted((Path(p.file).name, p.kind) for p in report.problems) == [
            ("closed", "directory not read"),
            ("locked.ndjson", "file not read"),
        ]
        assert result.exit_code == 0, result.output
        assert "locked.ndjson" in result.output and "file not read" in result.output
    finally:
        (root / "closed").chmod(0o755)
        shutil.rmtree(root)
