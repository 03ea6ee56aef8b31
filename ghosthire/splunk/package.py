"""The app as a deterministic .tgz: sorted entries, fixed times and owners, nothing a developer's machine
leaves behind (local/, .DS_Store, bytecode), so the same content always gives the same bytes."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

# 2025-01-01T00:00:00Z. Zero would be read by some tools as "no date".
FIXED_MTIME = 1735689600
_EXCLUDED_NAMES = frozenset({".DS_Store", "__pycache__", "Thumbs.db"})
_EXCLUDED_TOP = frozenset({"local"})


def is_packaged(relative: str) -> bool:
    """False for what AppInspect rejects or a build must not carry: local/, .DS_Store, bytecode."""
    parts = PurePosixPath(relative).parts
    return (
        bool(parts)
        and parts[0] not in _EXCLUDED_TOP
        and not _EXCLUDED_NAMES.intersection(parts)
        and not relative.endswith((".pyc", ".pyo"))
        and relative != "metadata/local.meta"
    )


def write_tgz(app_id: str, files: Mapping[str, bytes], target: Path) -> Path:
    """`files` (paths relative to the app folder) under `<app_id>/`, with their parent folders."""
    kept = {path: content for path, content in files.items() if is_packaged(path)}
    folders = {str(parent) for path in kept for parent in PurePosixPath(path).parents if str(parent) != "."}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_entry(app_id, tarfile.DIRTYPE, 0o755))
        for path in sorted(folders | set(kept)):
            name = f"{app_id}/{path}"
            if path in kept:
                tar.addfile(_entry(name, tarfile.REGTYPE, 0o644, len(kept[path])), io.BytesIO(kept[path]))
            else:
                tar.addfile(_entry(name, tarfile.DIRTYPE, 0o755))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return target


def _entry(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
