"""The MITRE ATT&CK Enterprise technique and tactic table (ghosthire/model/attack.json), shipped whole so that
any rule's tags can be checked and described offline; scripts/attack_table.py regenerates it from MITRE CTI.

ATT&CK ids, names and tactic assignments are public facts of MITRE ATT&CK (c) The MITRE Corporation, used
under the ATT&CK Terms of Use; the file names its release and license.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ghosthire.errors import ContentError

ATTACK_TABLE = Path(__file__).with_name("attack.json")
SITE = "https://attack.mitre.org"


@dataclass(frozen=True)
class Tactic:
    id: str
    shortname: str
    name: str

    @property
    def reference(self) -> str:
        return f"{SITE}/tactics/{self.id}"


@dataclass(frozen=True)
class Technique:
    id: str
    name: str
    tactics: tuple[str, ...]

    @property
    def parent_id(self) -> str:
        return self.id.split(".")[0]

    @property
    def reference(self) -> str:
        return f"{SITE}/techniques/{self.id.replace('.', '/')}"


@dataclass(frozen=True)
class AttackTable:
    source: str
    # Tactics by shortname (the `attack.<tactic>` tag), in the matrix's order.
    tactics: dict[str, Tactic]
    techniques: dict[str, Technique]

    def technique(self, technique_id: str) -> Technique:
        try:
            return self.techniques[technique_id]
        except KeyError:
            raise ContentError(ATTACK_TABLE, f"{technique_id} is not a technique of {self.source}") from None

    def tactics_of(self, technique_ids: Iterable[str]) -> list[str]:
        """The tactics (short names) the techniques belong to, in the matrix's order; a technique the
        table does not know (a newer ATT&CK release) adds none."""
        found = {
            tactic
            for tid in technique_ids
            if tid in self.techniques
            for tactic in self.techniques[tid].tactics
        }
        return [tactic for tactic in self.tactics if tactic in found]


@cache
def load_attack(path: Path = ATTACK_TABLE) -> AttackTable:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        tactics = {shortname: Tactic(tid, shortname, name) for tid, shortname, name in raw["tactics"]}
        techniques = {
            tid: Technique(tid, name, tuple(phases)) for tid, (name, phases) in raw["techniques"].items()
        }
        source = raw["source"].split(",")[0]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ContentError(path, f"invalid ATT&CK table: {error}") from None
    return AttackTable(source, tactics, techniques)
