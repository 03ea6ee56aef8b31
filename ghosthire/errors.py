"""Errors that reach the user as one line naming their cause (and file and line, for content)."""

from __future__ import annotations

from pathlib import Path


def error_message(error: Exception) -> str:
    """An error's own message on one line, without the rule location pySigma appends to its text
    (`SigmaError.source`): the caller names the rule."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    message = " ".join(str(error.args[0]).split()) if error.args else ""
    return message or type(error).__name__


class GhosthireError(Exception):
    """Any failure the CLI reports as a single line without a traceback."""


class ContentError(GhosthireError):
    """A broken rule, pipeline or test-event file, located by path and (when known) line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {message}")
