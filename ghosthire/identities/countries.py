"""Country names and codes as the sign-in logs write them, normalised to ISO 3166-1 alpha-2.

Okta writes English country names (MaxMind's), Entra ID two-letter ISO codes, Google Workspace region
codes; the identity lookup's `work_country` is alpha-2. `countries.csv` is ISO 3166-1 as published by the
Debian iso-codes project 4.15.0 (LGPL-2.1-or-later; alpha-2, alpha-3, name, common and official names);
`country_aliases.csv` is ghosthire's own list of the other English names IP-geolocation vendors use.
"""

from __future__ import annotations

import csv
import unicodedata
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


def _key(text: str) -> str:
    """Case, accents and punctuation spacing do not make another country (Türkiye, Turkiye)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(folded.casefold().replace(",", " ").split())


@cache
def _codes() -> dict[str, str]:
    return {_key(name): code for name, code in country_names().items()}


@cache
def country_names() -> dict[str, str]:
    """Every name and code the table knows, lower-cased, with its alpha-2 code (a SIEM's lookup table)."""
    names: dict[str, str] = {}
    for path, columns in (
        ("countries.csv", ("alpha_2", "alpha_3", "name", "common_name", "official_name")),
        ("country_aliases.csv", ("name",)),
    ):
        with (_HERE / path).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for column in columns:
                    if row[column]:
                        names.setdefault(row[column].casefold(), row["alpha_2"])
    return names


def country_code(value: object) -> str | None:
    """The alpha-2 code of a country name or code (alpha-2, alpha-3), or None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _codes().get(_key(value))
