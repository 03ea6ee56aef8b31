"""Jinja rendering of the app's templates: undefined names fail, .conf values are escaped by filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from ghosthire.errors import ContentError

TEMPLATE_SUFFIX = ".j2"
_XML_TEMPLATE = re.compile(r"\.xml\.j2$")


def conf_value(value: object) -> str:
    """A .conf value: each line break becomes a backslash continuation, which splunkd reads back as a line
    break. A value whose line ends in a backslash, or with outer whitespace, would not read back as
    written, so it is refused rather than silently changed."""
    text = str(value)
    if text != text.strip() or any(line.endswith("\\") for line in text.split("\n")):
        raise ContentError(
            "<conf value>", f"value would not read back unchanged from a .conf file: {text[:80]!r}"
        )
    return text.replace("\n", "\\\n")


def conf_stanza(name: object) -> str:
    """A stanza name between `[` and `]`: no brackets or line breaks inside."""
    text = str(name)
    if any(char in text for char in "[]\n") or text != text.strip():
        raise ContentError("<conf stanza>", f"not a valid stanza name: {text!r}")
    return text


def spl_field(name: object) -> str:
    """A field name inside an eval expression, single-quoted; a quote in the name could end it early."""
    text = str(name)
    if "'" in text or "\n" in text:
        raise ContentError("<spl field>", f"field name {text!r} cannot be quoted in eval")
    return f"'{text}'"


def spl_string(value: object) -> str:
    """A double-quoted SPL string literal with quotes and backslashes escaped."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def environment(template_dir: Path) -> Environment:
    """XML templates escape what they interpolate; .conf templates escape through the filters above."""
    env = Environment(
        loader=FileSystemLoader(template_dir),
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name and _XML_TEMPLATE.search(name)),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(conf=conf_value, stanza=conf_stanza, spl_field=spl_field, spl_string=spl_string)
    return env


def render(env: Environment, template: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(template).render(**context)
    except TemplateError as error:
        raise ContentError(template, f"template error: {error}") from None


def render_tree(env: Environment, root: str, context: Mapping[str, Any]) -> dict[str, str]:
    """Every `*.j2` under `root` (relative to the template dir), rendered to the same relative path in
    the app without the suffix: the template tree mirrors the app's layout."""
    names = [
        name
        for name in env.list_templates()
        if name.startswith(f"{root}/") and name.endswith(TEMPLATE_SUFFIX)
    ]
    return {
        name.removeprefix(f"{root}/").removesuffix(TEMPLATE_SUFFIX): render(env, name, context)
        for name in sorted(names)
    }
