"""Just enough PNG decoding to look at a headless-browser screenshot's pixels (8-bit RGB or RGBA,
non-interlaced, as Chromium writes them), so a test needs no imaging library."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

CHANNELS = {2: 3, 6: 4}  # colour type -> bytes per pixel at bit depth 8


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows): each row the pixels' bytes, RGB or RGBA, filters undone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in CHANNELS and interlace == 0, f"unsupported PNG {header}"
    step = CHANNELS[colour]
    raw = zlib.decompress(idat)
    stride = width * step
    rows: list[bytes] = []
    previous = bytearray(stride)
    for number in range(height):
        start = number * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for index in range(stride):
            left = line[index - step] if index >= step else 0
            up = previous[index]
            corner = previous[index - step] if index >= step else 0
            line[index] = (line[index] + _predict(kind, left, up, corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows if step == 3 else [_rgb(row) for row in rows]


def _predict(kind: int, left: int, up: int, corner: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    estimate = left + up - corner
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - corner))
    return (left, up, corner)[distances.index(min(distances))]


def _rgb(row: bytes) -> bytes:
    return bytes(value for index, value in enumerate(row) if index % 4 != 3)


def pixel_rows_with(rows: list[bytes], colour: tuple[int, int, int], tolerance: int = 6) -> list[int]:
    """The numbers of the rows holding at least one pixel of about this colour."""
    found = []
    for number, row in enumerate(rows):
        for index in range(0, len(row), 3):
            if all(abs(row[index + channel] - colour[channel]) <= tolerance for channel in range(3)):
                found.append(number)
                break
    return found
