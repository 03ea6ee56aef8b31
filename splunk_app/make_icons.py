"""Draw the app icons once (skeleton/static/appIcon.png 36x36, appIcon_2x.png 72x72); the PNGs are committed.

A white ghost on a dark violet rounded square, drawn with 4x4 supersampling and written as an RGBA PNG by
hand so no imaging library is needed. Run: python splunk_app/make_icons.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BACKGROUND = (75, 63, 114)
GHOST = (245, 245, 250)
SAMPLES = 4


def _in_rounded_square(x: float, y: float) -> bool:
    radius = 0.18
    cx, cy = min(max(x, radius), 1 - radius), min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _in_ghost(x: float, y: float) -> bool:
    head = (x - 0.5) ** 2 + (y - 0.42) ** 2 <= 0.25**2
    body = 0.25 <= x <= 0.75 and 0.42 <= y <= 0.78
    hem = 0.78 < y <= 0.84 and int((x - 0.25) / (0.5 / 3)) % 2 == 0 and 0.25 <= x <= 0.75
    eyes = any((x - ex) ** 2 + (y - 0.42) ** 2 <= 0.045**2 for ex in (0.41, 0.59))
    return (head or body or hem) and not eyes


def _pixel(px: int, py: int, size: int) -> tuple[int, int, int, int]:
    square = ghost = 0
    for sx in range(SAMPLES):
        for sy in range(SAMPLES):
            x, y = (px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size
            if _in_rounded_square(x, y):
                square += 1
                ghost += _in_ghost(x, y)
    total = SAMPLES * SAMPLES
    if not square:
        return (0, 0, 0, 0)
    mix = ghost / square
    red, green, blue = (round(b + (g - b) * mix) for b, g in zip(BACKGROUND, GHOST, strict=True))
    return (red, green, blue, round(255 * square / total))


def png(size: int) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(_pixel(px, py, size)) for px in range(size)) for py in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    static = Path(__file__).parent / "skeleton" / "static"
    static.mkdir(parents=True, exist_ok=True)
    (static / "appIcon.png").write_bytes(png(36))
    (static / "appIcon_2x.png").write_bytes(png(72))


if __name__ == "__main__":
    main()
