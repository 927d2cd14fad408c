"""A parser for the small SOQL subset an incremental connector sends.

Supported: ``SELECT f1, Parent.f2 | COUNT() FROM Object [WHERE c AND c ...] [ORDER BY f [ASC|DESC], ...]
[LIMIT n]`` where each condition compares a field to a literal (unquoted datetime, date, quoted
string, number, true/false/null). Anything else is rejected the way Salesforce rejects what it cannot
parse: ``MALFORMED_QUERY`` with the query, a caret and ``ERROR at Row:1:Column:N``. Which conditions
and orders can actually be served is decided by the Salesforce handler, not here.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "LIMIT",
        "OFFSET",
        "NULLS",
        "FIRST",
        "LAST",
        "COUNT",
        "GROUP",
        "HAVING",
        "TRUE",
        "FALSE",
        "NULL",
    }
)


class SoqlError(Exception):
    """A query Salesforce would refuse: carries the errorCode and message of its error body."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code, self.message = error_code, message


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int  # 1-based, as Salesforce reports it

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: object  # datetime.datetime (aware UTC), datetime.date, str, int, float, bool or None
    column: int


@dataclass(frozen=True)
class SelectField:
    name: str  # as written, possibly dotted (Account.Name)
    column: int


@dataclass(frozen=True)
class SoqlQuery:
    text: str
    fields: tuple[SelectField, ...]
    count: bool
    sobject: str
    sobject_column: int
    conditions: tuple[Condition, ...]
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None


def malformed(text: str, column: int, detail: str, code: str = "MALFORMED_QUERY") -> SoqlError:
    caret = " " * max(0, column - 1) + "^"
    return SoqlError(code, f"\n{text}\n{caret}\nERROR at Row:1:Column:{column}\n{detail}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise malformed(text, position + 1, f"unexpected token: '{text[position]}'")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position + 1))
        position = match.end()
    return tokens


def _literal(token: Token, text: str) -> object:
    if token.kind == "datetime":
        stamp = token.text.replace("Z", "+00:00")
        if re.search(r"[+-]\d{4}$", stamp):
            stamp = stamp[:-2] + ":" + stamp[-2:]
        return datetime.datetime.fromisoformat(stamp).astimezone(datetime.UTC)
    if token.kind == "date":
        return datetime.date.fromisoformat(token.text)
    if token.kind == "number":
        return float(token.text) if "." in token.text else int(token.text)
    if token.kind == "string":
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])
    if token.kind == "name" and token.upper in {"TRUE", "FALSE"}:
        return token.upper == "TRUE"
    if token.kind == "name" and token.upper == "NULL":
        return None
    raise malformed(text, token.column, f"unexpected token: '{token.text}'")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def end_column(self) -> int:
        return len(self.text) + 1

    def next(self, expected: str) -> Token:
        token = self.peek()
        if token is None:
            raise malformed(self.text, self.end_column(), f"unexpected token: <EOF>, expected {expected}")
        self.index += 1
        return token

    def keyword(self, word: str) -> None:
        token = self.next(word)
        if token.upper != word:
            raise malformed(self.text, token.column, f"unexpected token: '{token.text}'")

    def at(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.upper == word

    def name(self, what: str) -> Token:
        token = self.next(what)
        if token.kind != "name" or token.upper in KEYWORDS:
            raise malformed(self.text, token.column, f"unexpected token: '{token.text}'")
        return token

    def parse(self) -> SoqlQuery:
        self.keyword("SELECT")
        count, fields = self.select_list()
        self.keyword("FROM")
        sobject = self.name("object name")
        if "." in sobject.text:
            raise malformed(self.text, sobject.column, f"unexpected token: '{sobject.text}'")
        conditions: list[Condition] = []
        if self.at("WHERE"):
            self.index += 1
            conditions.append(self.condition())
            while self.at("AND"):
                self.index += 1
                conditions.append(self.condition())
        order_by: list[tuple[str, bool]] = []
        if self.at("ORDER"):
            self.index += 1
            self.keyword("BY")
            order_by.append(self.order_item())
            while (token := self.peek()) is not None and token.text == ",":
                self.index += 1
                order_by.append(self.order_item())
        limit = None
        if self.at("LIMIT"):
            self.index += 1
            token = self.next("a number")
            if token.kind != "number" or not token.text.isdigit():
                raise malformed(self.text, token.column, f"unexpected token: '{token.text}'")
            limit = int(token.text)
        token = self.peek()
        if token is not None:
            raise malformed(self.text, token.column, f"unexpected token: '{token.text}'")
        return SoqlQuery(
            self.text,
            tuple(fields),
            count,
            sobject.text,
            sobject.column,
            tuple(conditions),
            tuple(order_by),
            limit,
        )

    def select_list(self) -> tuple[bool, list[SelectField]]:
        if self.at("COUNT"):
            self.index += 1
            opening, closing = self.next("("), self.next(")")
            if opening.text != "(" or closing.text != ")":
                raise malformed(self.text, closing.column, f"unexpected token: '{closing.text}'")
            return True, []
        fields = [self.select_field()]
        while (token := self.peek()) is not None and token.text == ",":
            self.index += 1
            fields.append(self.select_field())
        return False, fields

    def select_field(self) -> SelectField:
        token = self.name("field name")
        following = self.peek()
        if following is not None and following.text == "(":
            raise malformed(
                self.text, token.column, "the sandbox supports plain fields and COUNT() only (no functions)"
            )
        return SelectField(token.text, token.column)

    def condition(self) -> Condition:
        token = self.peek()
        if token is not None and token.text == "(":
            raise malformed(self.text, token.column, "the sandbox supports only AND of simple conditions")
        field = self.name("field name")
        op = self.next("operator")
        if op.kind != "op":
            raise malformed(self.text, op.column, f"unexpected token: '{op.text}'")
        value_token = self.next("a value")
        value = _literal(value_token, self.text)
        if self.at("OR"):
            raise malformed(
                self.text, self.peek().column, "the sandbox supports only AND of simple conditions"
            )
        return Condition(field.text, "!=" if op.text == "<>" else op.text, value, field.column)

    def order_item(self) -> tuple[str, bool]:
        field = self.name("field name")
        descending = False
        if self.at("ASC") or self.at("DESC"):
            descending = self.next("direction").upper == "DESC"
        if self.at("NULLS"):
            self.index += 1
            if not (self.at("FIRST") or self.at("LAST")):
                token = self.next("FIRST or LAST")
                raise malformed(self.text, token.column, f"unexpected token: '{token.text}'")
            self.index += 1
        return field.text, descending


def parse_soql(text: str) -> SoqlQuery:
    """Parse ``text`` or raise SoqlError with Salesforce's MALFORMED_QUERY body."""
    return _Parser(text.strip()).parse()
