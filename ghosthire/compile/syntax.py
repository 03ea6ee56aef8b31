"""Each target's own parser run over every generated query before it is written: a query its engine would
reject (or read differently) is never shipped. EQL with `eql`, Lucene with `luqum`, ES|QL with the
ES|QL grammar (`esql-parser`); SPL, which has no public parser, structurally (quotes, brackets, macros).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any


class QuerySyntaxError(ValueError):
    """A generated query the target's parser rejects; the message says where."""


def eql_tree(query: str) -> Any:
    """The query as Elasticsearch reads EQL (its syntax, with `runs=`), parsed by the eql package."""
    import eql

    with eql.parser.elasticsearch_syntax, eql.parser.allow_runs:
        return eql.parse_query(query)


@lru_cache(maxsize=256)  # ANTLR's Python runtime is slow, and the Kibana writer checks queries again
def esql_tree(query: str) -> tuple[Any, int]:
    """The parse tree of ES|QL's own grammar and the number of syntax errors found (the tree is shared:
    read it, never change it)."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from esql_parser.EsqlBaseLexer import EsqlBaseLexer
    from esql_parser.EsqlBaseParser import EsqlBaseParser

    class Counter(ErrorListener):  # the lexer drops a character it cannot read and counts nothing
        errors = 0

        def syntaxError(self, *_: Any) -> None:
            self.errors += 1

    lexer_errors = Counter()
    lexer = EsqlBaseLexer(InputStream(query))
    lexer.removeErrorListeners()
    lexer.addErrorListener(lexer_errors)
    parser = EsqlBaseParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    tree = parser.singleStatement()
    return tree, parser.getNumberOfSyntaxErrors() + lexer_errors.errors


def check_eql(query: str) -> None:
    import eql

    try:
        eql_tree(query)
    except eql.EqlError as error:
        raise QuerySyntaxError(_first_line(error)) from None


def check_esql(query: str) -> None:
    _, errors = esql_tree(query)
    if errors:
        raise QuerySyntaxError(f"{errors} syntax error(s) in ES|QL")


def check_lucene(query: str) -> None:
    from luqum.exceptions import ParseError
    from luqum.parser import parser

    try:
        parser.parse(query)
    except (ParseError, ValueError) as error:
        raise QuerySyntaxError(_first_line(error)) from None


_SPL_CLOSERS = {"(": ")", "[": "]"}


def check_spl(query: str) -> None:
    """Quotes closed (a backslash escapes the next character), brackets balanced outside quotes, macro
    backticks paired, and no character a .conf file cannot hold."""
    if any(ord(char) < 32 and char not in "\t\n" for char in query):
        raise QuerySyntaxError("a control character other than tab or newline")
    stack: list[str] = []
    quoted = escaped = False
    for position, char in enumerate(query, start=1):
        if quoted:
            quoted, escaped = (quoted, False) if escaped else (char != '"', char == "\\")
        elif char == '"':
            quoted = True
        elif char in _SPL_CLOSERS:
            stack.append(_SPL_CLOSERS[char])
        elif char in ")]" and (not stack or stack.pop() != char):
            raise QuerySyntaxError(f"unbalanced {char!r} at character {position}")
    if quoted:
        raise QuerySyntaxError("unterminated quoted string")
    if stack:
        raise QuerySyntaxError(f"{len(stack)} unclosed bracket(s)")
    if query.count("`") % 2:
        raise QuerySyntaxError("unpaired macro backtick")


SYNTAX_CHECKS: dict[str, Callable[[str], None]] = {
    "eql": check_eql,
    "esql": check_esql,
    "lucene": check_lucene,
    "spl": check_spl,
}


def _first_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200]
