"""Hostile rules, generated: a valid rule file mutated at random (characters deleted, inserted or
replaced, lines duplicated, dropped or re-indented) either loads or is refused with one ContentError naming
the file (and the line, when the file is the culprit), never another exception."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ghosthire.errors import ContentError
from ghosthire.rules import load_pack

RULE = """\
title: Okta session from a proxy
id: 9a1d2c3e-0000-4000-8000-0000000000c1
name: mutated
status: experimental
description: A rule to mutate.
date: 2025-06-01
tags: [attack.t1078]
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.session.start
    securityContext.isProxy: 'true'
  filter:
    actor.alternateId|endswith: '@corp.example'
  condition: selection and not filter
level: medium
"""
HOSTILE = [*"\n\t :-[]{}|&*!%@`'\"#>?,\\", "\ud800", "\x00", "é", "&a", "*a", "<<: ", "!!python/object "]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = RULE.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "drop", "indent"]))
        line = draw(st.integers(0, len(lines) - 1))
        text = lines[line]
        column = draw(st.integers(0, max(len(text) - 1, 0)))
        piece = draw(st.sampled_from(HOSTILE))
        if kind == "insert":
            lines[line] = text[:column] + piece + text[column:]
        elif kind == "delete":
            lines[line] = text[:column] + text[column + 1 :]
        elif kind == "replace":
            lines[line] = text[:column] + piece + text[column + 1 :]
        elif kind == "duplicate":
            lines.insert(line, text)
        elif kind == "drop" and len(lines) > 1:
            lines.pop(line)
        elif kind == "indent":
            lines[line] = "  " + text
    return "".join(lines)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=mutated())
def test_a_mutated_rule_loads_or_is_refused_in_one_line(text: str) -> None:
    directory = Path(tempfile.mkdtemp(prefix="ghosthire-mutated-"))
    try:
        path = directory / "mutated.yml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_pack(directory, require_metadata=False)
        except ContentError as error:
            assert "\n" not in str(error)
            assert error.path == directory or (error.path == path and error.line is not None), str(error)
    finally:
        shutil.rmtree(directory)
