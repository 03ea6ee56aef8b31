"""Where the content folders live: in place in a checkout, inside the package in a wheel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent


# libyaml's parser when PyYAML was built with it: the pipelines and test events parse ten times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """One YAML document as plain data (what `yaml.safe_load` gives); raises yaml.YAMLError."""
    return yaml.load(text, Loader=_YAML_LOADER)


def parse_yaml_documents(text: str) -> list[Any]:
    """Every YAML document of a multi-document text (a Sigma file with its filters); raises yaml.YAMLError."""
    return list(yaml.load_all(text, Loader=_YAML_LOADER))


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


# A company's own lookups folder (`--lookups DIR`), consulted before the shipped examples while set.
_company_lookups: ContextVar[Path | None] = ContextVar("company_lookups", default=None)


def shipped_lookups_dir() -> Path:
    """The example lookups the pack ships (splunk_app/lookups/)."""
    return splunk_app_dir() / "lookups"


def company_lookups_dir() -> Path | None:
    """The company's lookups folder in use, or None when the shipped examples are used."""
    return _company_lookups.get()


def lookup_path(filename: str) -> Path:
    """A lookup by file name: the company's copy when its folder has one, the shipped example otherwise
    (so a company folder need only hold the lists it keeps, and pack catalogues such as LOLRMM's stay)."""
    company = _company_lookups.get()
    if company is not None and (company / filename).is_file():
        return company / filename
    return shipped_lookups_dir() / filename


def lookup_filenames() -> list[str]:
    """Every lookup file name in use: the shipped ones and any the company folder adds."""
    folders = [shipped_lookups_dir(), *filter(None, [_company_lookups.get()])]
    return sorted({path.name for folder in folders for path in folder.glob("*.csv")})


@contextmanager
def using_lookups(directory: Path | None) -> Iterator[None]:
    """Read lookups from a company's folder (same file names as splunk_app/lookups/) while inside."""
    token = _company_lookups.set(directory)
    try:
        yield
    finally:
        _company_lookups.reset(token)
