"""Choosing which rules of a pack run, as users of Zircolite, Chainsaw and Hayabusa expect: by level, by
tag (ATT&CK or the pack's guidance areas) and by name patterns to include or exclude."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from ghosthire.errors import GhosthireError
from ghosthire.model.levels import LEVELS, Level
from ghosthire.rules.loader import PackRule, RulePack


@dataclass(frozen=True)
class RuleSelection:
    """Every criterion given must hold; a criterion given several times holds when any of its values
    does. `min_level`: that level and above, `tags`: `attack.t1059` (sub-techniques included), `t1059`,
    `attack.execution` or a guidance area; `include`/`exclude`: glob patterns on a rule's name, id,
    title or file name."""

    min_level: Level | None = None
    tags: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.min_level or self.tags or self.include or self.exclude)

    def chooses(self, rule: PackRule) -> bool:
        return (
            (self.min_level is None or LEVELS.index(rule.level) >= LEVELS.index(self.min_level))
            and (not self.tags or any(_has_tag(rule, tag) for tag in self.tags))
            and (not self.include or any(_named(rule, pattern) for pattern in self.include))
            and not any(_named(rule, pattern) for pattern in self.exclude)
        )


def select(pack: RulePack, selection: RuleSelection) -> RulePack:
    """The chosen rules and the rules the chosen correlations need; an error when none is chosen."""
    if not selection:
        return pack
    chosen = [rule.name for rule in pack.rules if selection.chooses(rule)]
    if not chosen:
        raise GhosthireError(f"no rule of {pack.root} matches the rule selection")
    return pack.subset(chosen)


def _has_tag(rule: PackRule, wanted: str) -> bool:
    wanted = wanted.lower()
    tags = {f"{tag.namespace}.{tag.name}".lower() for tag in rule.rule.tags}
    tags |= {tag.split(".", 1)[1] for tag in tags if tag.startswith("attack.")}
    tags |= {str(area).lower() for area in (rule.meta.guidance if rule.meta else [])}
    return any(tag == wanted or tag.startswith(wanted + ".") for tag in tags)


def _named(rule: PackRule, pattern: str) -> bool:
    names = (rule.name, rule.id, rule.title, rule.path.name, rule.path.stem)
    return any(fnmatchcase(name.lower(), pattern.lower()) for name in names)
