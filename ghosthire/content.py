"""Where the content folders live: in place in a checkout, inside the package in a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def content_root() -> Path:
    packaged = _PACKAGE_DIR / "_content"
    return packaged if packaged.is_dir() else _PACKAGE_DIR.parent


def rules_dir() -> Path:
    return content_root() / "sigma_rules"


def backends_dir() -> Path:
    return content_root() / "backends"


def splunk_app_dir() -> Path:
    return content_root() / "splunk_app"


def detection_tests_dir() -> Path:
    """Each rule's must-fire and must-not-fire events, one file per rule name."""
    return content_root() / "detection_tests"


def examples_dir() -> Path:
    return content_root() / "examples"
