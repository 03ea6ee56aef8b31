"""Load a directory of Sigma rules into a validated, reference-resolved pack.

A broken file is reported with its path and the line of the offending text; a correlation rule that
names a rule the pack does not have is reported on the line that names it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import cast

import yaml
from pydantic import ValidationError
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation, SigmaRuleNotFoundError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from ghosthire.errors import ContentError, error_message
from ghosthire.model.levels import DEFAULT_LEVEL, Level
from ghosthire.rules.documents import RuleDocument, load_documents
from ghosthire.rules.metadata import RuleMetadata
from sigma import exceptions

AnyRule = SigmaRule | SigmaCorrelationRule
# Where a parsed rule or filter came from: its file, the file's text and its YAML documents.
Origin = tuple[Path, str, list[RuleDocument]]
# A rule file's rules and filters, as pySigma parsed them, and its YAML documents.
ParsedFile = tuple[list[AnyRule | SigmaFilter], list[RuleDocument]]
RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, eq=False)
class PackRule:
    """One Sigma rule (or correlation rule) with the file it came from and ghosthire's metadata."""

    rule: AnyRule
    path: Path
    meta: RuleMetadata | None

    @property
    def name(self) -> str:
        """Stable slug: the Sigma `name`, else the file stem. Saved searches and macros use it."""
        return self.rule.name or self.path.stem

    @property
    def id(self) -> str:
        return str(self.rule.id)

    @property
    def title(self) -> str:
        return self.rule.title

    @property
    def level(self) -> Level:
        return cast(Level, self.rule.level.name.lower()) if self.rule.level else DEFAULT_LEVEL

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)

    @property
    def attack_ids(self) -> list[str]:
        """ATT&CK technique ids from the `attack.tNNNN[.NNN]` tags, upper-cased."""
        return [
            tag.name.upper()
            for tag in self.rule.tags
            if tag.namespace == "attack" and re.fullmatch(r"t\d{4}(\.\d{3})?", tag.name)
        ]


@dataclass
class RulePack:
    """All rules of a directory, filters applied, ordered so referenced rules come first; `skipped`: the
    rules that could not be read (only when loaded with `strict=False`), each with its file and line."""

    rules: list[PackRule]
    collection: SigmaCollection
    root: Path
    skipped: list[ContentError] = field(default_factory=list)

    @cached_property
    def _by_key(self) -> dict[str, PackRule]:
        keys: dict[str, PackRule] = {}
        for pack_rule in self.rules:
            keys[pack_rule.id] = pack_rule
            keys[pack_rule.name] = pack_rule
        return keys

    def get(self, key: str) -> PackRule:
        """A rule by Sigma id or name."""
        try:
            return self._by_key[key]
        except KeyError:
            raise ContentError(self.root, f"no rule named or with id {key!r}") from None

    def of(self, rule: AnyRule) -> PackRule:
        return self.get(str(rule.id))

    def dependencies(self, pack_rule: PackRule) -> list[PackRule]:
        """The rule and every rule it references, transitively, referenced rules first."""
        ordered: list[PackRule] = []

        def visit(current: PackRule) -> None:
            if isinstance(current.rule, SigmaCorrelationRule):
                for reference in current.rule.rules:
                    visit(self.of(reference.rule))
            if current not in ordered:
                ordered.append(current)

        visit(pack_rule)
        return ordered

    def only(self, rules: list[PackRule]) -> RulePack:
        """A pack of some of its rules, as they are (the rules they reference are not added)."""
        return RulePack(rules, SigmaCollection([r.rule for r in rules], resolve_references=False), self.root)

    def subset(self, names: Iterable[str]) -> RulePack:
        """A pack holding the named rules and everything they depend on."""
        wanted: list[PackRule] = []
        for name in names:
            for dependency in self.dependencies(self.get(name)):
                if dependency not in wanted:
                    wanted.append(dependency)
        return RulePack(wanted, SigmaCollection([r.rule for r in wanted]), self.root, list(self.skipped))


def rule_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())


def load_pack(
    root: Path,
    *,
    require_metadata: bool = True,
    strict: bool = True,
    files: list[Path] | None = None,
    parse: Callable[[Path, str], ParsedFile] | None = None,
) -> RulePack:
    """Parse every rule file under `root` (or the given `files`). A broken rule raises ContentError naming its file and line;
    with `strict=False` it is left out instead, listed in the pack's `skipped`, and the rest load (when
    none is left, the first broken one is raised). `parse`: how a file's text is parsed (parse_file, or
    a cache of its results)."""
    parse = parse or parse_file
    skipped: list[ContentError] = []

    def skip(error: ContentError) -> None:
        if strict:
            raise error
        skipped.append(error)

    rules: list[AnyRule] = []
    filters: list[SigmaFilter] = []
    origin: dict[int, Origin] = {}
    files = files or rule_files(root)
    if not files:
        raise ContentError(root, "no Sigma rule files (*.yml) found")
    for path in files:
        try:
            text = _read(path)
            items, documents = parse(path, text)
        except ContentError as error:
            skip(error)
            continue
        for item in items:
            origin[id(item)] = (path, text, documents)
            (filters if isinstance(item, SigmaFilter) else rules).append(item)
    rules = _resolved(rules, origin, skip)
    collection = SigmaCollection([_filtered(rule, filters) for rule in rules], resolve_references=False)
    _resolve_all(collection, origin)
    pack_rules = []
    for rule in collection.rules:
        try:
            pack_rules.append(
                PackRule(rule, origin[id(rule)][0], _metadata(rule, origin[id(rule)], require_metadata))
            )
        except ContentError as error:
            skip(error)
    pack_rules = _with_references(_unique(pack_rules, origin, skip), origin, skip)
    if skipped and not pack_rules:
        raise skipped[0]
    unordered = RulePack(pack_rules, collection, root)
    # pySigma's own sort is not a total order: put every referenced rule before the rules that use it.
    ordered = list(dict.fromkeys(dep for rule in pack_rules for dep in unordered.dependencies(rule)))
    return RulePack(
        ordered, SigmaCollection([rule.rule for rule in ordered], resolve_references=False), root, skipped
    )


def _filtered(rule: AnyRule, filters: list[SigmaFilter]) -> AnyRule:
    """Apply each Sigma filter on its own copy: pySigma shares one filter's detection objects between all
    the rules it applies to, and pipelines rewrite those objects in place for the first rule."""
    for sigma_filter in filters:
        rule = copy.deepcopy(sigma_filter).apply_on_rule(rule)
    return rule


def _read(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ContentError(path, f"not UTF-8 text (byte {column} of the line)", line) from None


def parse_file(path: Path, text: str) -> ParsedFile:
    """A rule file's rules and filters (conditions parsed), or ContentError with the file and line."""
    try:
        documents = load_documents(path, text)
    except yaml.YAMLError as error:
        raise _yaml_error(path, text, error) from None
    for document in documents:
        _check_text_fields(path, document)
    try:
        collection = SigmaCollection.from_dicts(
            [document.data for document in documents],
            source=SigmaRuleLocation(path),
            collect_filters=True,
            resolve_references=False,
        )
        for item in collection.rules:
            if isinstance(item, SigmaRule):
                for condition in item.detection.parsed_condition:
                    condition.parse()
    except SigmaError as error:
        raise _located(path, text, documents, error) from None
    except (TypeError, AttributeError, KeyError, ValueError) as error:
        # pySigma reads some wrongly typed values without checking them first.
        raise ContentError(path, f"not a valid Sigma rule: {_one_line(error)}", documents[0].line) from None
    return [*collection.rules, *collection.filters], documents


# Control characters other than tab and newline: no Splunk .conf file, Kibana rule or report can carry them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _check_text_fields(path: Path, document: RuleDocument) -> None:
    """Titles, descriptions and every other field outside `detection` end up in .conf files and reports;
    a detection value with such a character is each target's question (escaped, or skipped with why)."""
    for key, value in document.data.items():
        if key == "detection":
            continue
        for text in _strings(value):
            found = _CONTROL.search(text)
            if found:
                raise ContentError(
                    path, f"`{key}` holds a control character ({found.group()!r})", document.line_of(str(key))
                )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.items() for text in _strings(list(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _yaml_error(path: Path, text: str, error: yaml.YAMLError) -> ContentError:
    """Where the parser gave up, and where the construct it was reading began (often the real culprit);
    for a character YAML does not accept, the line it is on."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    message = f"invalid YAML: {getattr(error, 'problem', None) or str(error).splitlines()[0]}"
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark and mark and context_mark.line != mark.line:
        message += f" ({context} started on line {context_mark.line + 1})"
    if mark is None and isinstance(error, yaml.reader.ReaderError):
        return ContentError(path, message, text.count("\n", 0, error.position) + 1)
    return ContentError(path, message, mark.line + 1 if mark else None)


def _resolved(
    rules: list[AnyRule], origin: dict[int, Origin], skip: Callable[[ContentError], None]
) -> list[AnyRule]:
    """The rules whose references resolve: a correlation naming a rule the pack does not have (or
    one left out) is reported on the line that names it, and so are correlations that reference it."""
    kept = list(rules)
    changed = True
    while changed:
        changed = False
        collection = SigmaCollection(kept, resolve_references=False)
        for rule in list(kept):
            if not isinstance(rule, SigmaCorrelationRule):
                continue
            try:
                rule.resolve_rule_references(collection)
            except SigmaRuleNotFoundError as error:
                path, text, documents = origin[id(rule)]
                skip(_located(path, text, documents, error, prefix="correlation references a missing rule: "))
                kept.remove(rule)
                changed = True
    return kept


def _resolve_all(collection: SigmaCollection, origin: dict[int, Origin]) -> None:
    try:
        collection.resolve_rule_references()
    except SigmaError as error:
        raise ContentError(next(iter(origin.values()))[0].parent, str(error)) from None


def _metadata(rule: AnyRule, origin: Origin, required: bool) -> RuleMetadata | None:
    if not required and "guidance" not in rule.custom_attributes:
        return None
    path, _, documents = origin
    try:
        return RuleMetadata.from_custom_attributes(rule.custom_attributes)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        line = _line_in(documents, *(str(part) for part in first["loc"] if isinstance(part, str)))
        raise ContentError(path, f"pack metadata `{where or 'guidance'}`: {first['msg']}", line) from None


def _unique(
    rules: list[PackRule], origin: dict[int, Origin], skip: Callable[[ContentError], None]
) -> list[PackRule]:
    """The rules whose id and name no earlier rule has."""
    seen: dict[str, PackRule] = {}
    kept = []
    for pack_rule in rules:
        duplicate = next(
            ((name, key) for name, key in (("id", pack_rule.id), ("name", pack_rule.name)) if key in seen),
            None,
        )
        if duplicate is None:
            seen[pack_rule.id] = seen[pack_rule.name] = pack_rule
            kept.append(pack_rule)
            continue
        name, key = duplicate
        line = _line_in(origin[id(pack_rule.rule)][2], name)
        skip(ContentError(pack_rule.path, f"duplicate rule {name} {key!r} (also in {seen[key].path})", line))
    return kept


def _with_references(
    rules: list[PackRule], origin: dict[int, Origin], skip: Callable[[ContentError], None]
) -> list[PackRule]:
    """The rules without the correlations that reference a rule left out (and those that reference them)."""
    kept = list(rules)
    while True:
        loaded = {pack_rule.id for pack_rule in kept}
        broken = next(
            (
                (pack_rule, reference)
                for pack_rule in kept
                if isinstance(pack_rule.rule, SigmaCorrelationRule)
                for reference in pack_rule.rule.rules
                if str(reference.rule.id) not in loaded
            ),
            None,
        )
        if broken is None:
            return kept
        pack_rule, reference = broken
        line = _line_in(origin[id(pack_rule.rule)][2], "correlation", "rules")
        skip(
            ContentError(
                pack_rule.path, f"correlation references a rule left out: {reference.reference}", line
            )
        )
        kept.remove(pack_rule)


# The key a pySigma error is about, by its type: its line is where the error is.
_ERROR_KEYS: dict[type[SigmaError], tuple[str, ...]] = {
    exceptions.SigmaLevelError: ("level",),
    exceptions.SigmaIdentifierError: ("id",),
    exceptions.SigmaLogsourceError: ("logsource",),
    exceptions.SigmaTitleError: ("title",),
    exceptions.SigmaNameError: ("name",),
    exceptions.SigmaStatusError: ("status",),
    exceptions.SigmaDateError: ("date",),
    exceptions.SigmaModifiedError: ("modified",),
    exceptions.SigmaDescriptionError: ("description",),
    exceptions.SigmaReferencesError: ("references",),
    exceptions.SigmaFieldsError: ("fields",),
    exceptions.SigmaFalsePositivesError: ("falsepositives",),
    exceptions.SigmaAuthorError: ("author",),
    exceptions.SigmaRelatedError: ("related",),
    exceptions.SigmaTagError: ("tags",),
    exceptions.SigmaTaxonomyError: ("taxonomy",),
    exceptions.SigmaLicenseError: ("license",),
    exceptions.SigmaScopeError: ("scope",),
    exceptions.SigmaConditionError: ("detection", "condition"),
    exceptions.SigmaDetectionError: ("detection",),
    exceptions.SigmaTimespanError: ("correlation", "timespan"),
    exceptions.SigmaCorrelationConditionError: ("correlation", "condition"),
    exceptions.SigmaCorrelationTypeError: ("correlation", "type"),
    exceptions.SigmaCorrelationRuleError: ("correlation",),
}


def _located(
    path: Path, text: str, documents: list[RuleDocument], error: Exception, prefix: str = ""
) -> ContentError:
    """The error on the line of the value it quotes, else of the key its type is about."""
    message = error_message(error)
    tokens = re.findall(r"'([^']+)'", message)
    line = _line_of(text, [f"|{token}" for token in tokens] + tokens)
    if line is None:
        keys = next((keys for kind, keys in _ERROR_KEYS.items() if isinstance(error, kind)), ())
        line = _line_in(documents, *keys)
    return ContentError(path, prefix + message, line)


def _line_in(documents: list[RuleDocument], *keys: str) -> int:
    return documents[0].line_of(*keys) if documents else 1


def _one_line(error: object) -> str:
    return " ".join(str(error).split())[:300]


def _line_of(text: str, candidates: list[str]) -> int | None:
    lines = text.splitlines()
    for candidate in candidates:
        for number, line in enumerate(lines, start=1):
            if candidate in line:
                return number
    return None
