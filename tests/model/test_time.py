"""Python's `parse_time` and the local hunt's SQL macro `ghosthire_ts` read every time form alike."""

from __future__ import annotations

import json

import duckdb
import pytest

from ghosthire.hunt.extract import TIMESTAMP_MACRO
from ghosthire.model.time import parse_time

TIMES = [
    "2025-06-01T10:00:00Z",
    "2025-06-01T10:00:00.123456Z",
    "2025-06-01T10:00:00.123Z",
    "2025-06-01T10:00:00",
    "2025-06-01 10:00:00",
    "2025-06-01T12:00:00+02:00",
    "2025-06-01T05:30:00-04:30",
    "2025-06-01",
    1748772000,
    1748772000.25,
    1748772000123,
    "1748772000",
    "1748772000123",
]


@pytest.fixture(scope="module")
def db() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(TIMESTAMP_MACRO)
    return connection


@pytest.mark.parametrize("raw", TIMES, ids=str)
def test_python_and_sql_agree(db: duckdb.DuckDBPyConnection, raw: object) -> None:
    # The SQL side sees what json_extract_string makes of the record's value.
    text = raw if isinstance(raw, str) else json.dumps(raw)
    (sql_seconds,) = db.execute("SELECT ghosthire_ts(?::VARCHAR)", [text]).fetchone()
    assert sql_seconds == pytest.approx(parse_time(raw).timestamp(), abs=1e-3)


@pytest.mark.parametrize("raw", ["yesterday", "", True, "2025-13-01"])
def test_a_non_time_is_an_error(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_time(raw)
