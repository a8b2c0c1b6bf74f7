"""The rule expression language: names, tokens, syntax tree and parser.

The grammar, the meaning and the predicates are documented in :mod:`seqintent.anomaly.rules`;
this module turns one ``when:`` text into a tree, or raises :class:`RuleSyntaxError` with the
character offset of the problem (``rules.py`` turns it into a file line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from seqintent.errors import close_names
from seqintent.schema.actions import ACTION_FAMILY, FAMILIES

# --- vocabulary -------------------------------------------------------------------------------

FLAGS: dict[str, str] = {
    "new_device": "the event's device was never used by the user",
    "new_payee": "a payment action to a payee (item_id) the user never paid",
    "new_location": "the event's location was never seen for the user",
    "first_touch": "the user's first event with this item (not in the profile, nor earlier in the events)",
    "unusual_hour": "the user is rarely active at this local hour",
    "over_p99": "the amount is above the user's 99th percentile",
    "new_user": "the user has less history than profile.min_history",
}
ACTION_FLAGS: tuple[str, ...] = tuple(ACTION_FAMILY) + tuple(f for f in FAMILIES if f not in ACTION_FAMILY)
NUMERIC_FIELDS: dict[str, str] = {
    "amount": "the event's amount",
    "hour": "local hour of day, 0–23",
    "weekday": "local weekday, 0 = Monday … 6 = Sunday",
    "dwell": "dwell time in seconds",
    "gap": "seconds since the user's previous event",
    "amount_ratio": "amount / the user's median amount",
    "amount_z": "robust z-score of the amount: (amount − median) / (1.4826 · MAD)",
    "hour_prob": "the user's smoothed probability of this local hour (0–1)",
    "hour_distance": "circular distance in hours from the user's mean hour (0–12)",
    "device_share": "share of the user's events made on this device (0–1)",
    "history": "number of events in the user's profile",
}
TEXT_FIELDS: dict[str, str] = {
    "action": "canonical action",
    "family": "action family",
    "item": "item id",
    "payee": "item id of a payment action",
    "category": "item category",
    "device": "device id",
    "location": "location",
}
USER_STATS: dict[str, str] = {
    "user.median": "median of the user's recent amounts",
    "user.mad": "median absolute deviation of the user's recent amounts",
    "user.p90": "90th percentile of the user's recent amounts",
    "user.p99": "99th percentile of the user's recent amounts",
    "user.max": "largest of the user's recent amounts",
    "user.events": "number of events in the user's profile",
}
WRAPPING_FIELDS = ("hour", "weekday")  # `hour in 22-3` wraps around midnight
KEYWORDS = ("and", "or", "not", "then", "within", "in", "count", "event")
DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def all_value_names() -> list[str]:
    return [*NUMERIC_FIELDS, *TEXT_FIELDS, *USER_STATS]


def all_predicate_names() -> list[str]:
    return [*FLAGS, *ACTION_FLAGS]


class RuleSyntaxError(Exception):
    """A problem in one expression, at character ``offset`` covering ``length`` characters."""

    def __init__(
        self, message: str, offset: int, length: int = 1, candidates: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.length = max(1, length)
        self.candidates = candidates


# --- tokens -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<duration>\d[\d_]*(?:\.\d+)?(?:ms|s|m|h|d)\b)
  | (?P<number>\d[\d_]*(?:\.\d+)?)
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<op><=|>=|==|!=|<|>|\*|-|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # duration, number, string, name, keyword, op, end
    text: str
    offset: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise RuleSyntaxError(f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        if kind != "space":
            value = match.group()
            if kind == "name" and value.lower() in KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, value, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def parse_duration(text: str, offset: int = 0) -> int:
    """``"10m"`` → 600000 (milliseconds). Units: ms, s, m, h, d."""
    match = re.fullmatch(r"(\d[\d_]*(?:\.\d+)?)(ms|s|m|h|d)", text.strip())
    if match is None:
        raise RuleSyntaxError(
            f"expected a duration such as 30s, 10m, 2h or 1d (got {text!r})", offset, len(text)
        )
    return round(float(match.group(1).replace("_", "")) * DURATION_MS[match.group(2)])


# --- syntax tree --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Const:
    value: float | str
    offset: int


@dataclass(frozen=True, eq=False)
class FieldValue:
    """An event field, optionally scoped to an action or family (``transfer.amount``)."""

    name: str
    scope: str | None
    kind: str  # "number" | "text"
    offset: int


@dataclass(frozen=True, eq=False)
class UserStat:
    name: str  # e.g. "user.p99"
    offset: int


@dataclass(frozen=True, eq=False)
class Scaled:
    factor: float
    value: FieldValue | UserStat
    offset: int


Value = Const | FieldValue | UserStat | Scaled


@dataclass(frozen=True, eq=False)
class Flag:
    name: str
    offset: int


@dataclass(frozen=True, eq=False)
class Compare:
    left: Value
    op: str
    right: Value
    offset: int


@dataclass(frozen=True, eq=False)
class InRange:
    value: FieldValue
    low: float
    high: float
    offset: int


@dataclass(frozen=True, eq=False)
class InSet:
    value: FieldValue
    options: tuple[float | str, ...]
    offset: int


@dataclass(frozen=True, eq=False)
class EvAnd:
    parts: tuple[EventNode, ...]


@dataclass(frozen=True, eq=False)
class EvOr:
    parts: tuple[EventNode, ...]


@dataclass(frozen=True, eq=False)
class EvNot:
    part: EventNode


@dataclass(frozen=True, eq=False)
class Count:
    """``count(cond) OP n [within D]``: how many of the user's events meet ``cond`` in the last D."""

    cond: EventNode
    op: str
    n: float
    span_ms: int | None
    offset: int


EventNode = Flag | Compare | InRange | InSet | EvAnd | EvOr | EvNot | Count


@dataclass(frozen=True, eq=False)
class Item:
    """One step of a chain: an event condition or a group, linked to the step before it."""

    node: EventNode | Alternatives
    connector: str | None  # "and" | "then" | None (first step)
    within_ms: int | None
    negated: bool
    offset: int


@dataclass(frozen=True, eq=False)
class Chain:
    items: tuple[Item, ...]


@dataclass(frozen=True, eq=False)
class Alternatives:
    chains: tuple[Chain, ...] = field(default=())


# --- parser ------------------------------------------------------------------------------------

_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_keyword(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.lower in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect_op(self, op: str, what: str) -> Token:
        if not self.at_op(op):
            self.fail(f"expected {op!r} {what}")
        return self.next()

    def fail(self, message: str, tok: Token | None = None) -> None:
        tok = tok or self.tok
        got = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        raise RuleSyntaxError(f"{message}, got {got}", tok.offset, len(tok.text))

    # window level
    def parse(self) -> Alternatives:
        if self.tok.kind == "end":
            raise RuleSyntaxError("the expression is empty", 0)
        alts = self.alternatives(has_previous=False)
        if self.tok.kind != "end":
            self.fail("expected AND, THEN, OR or the end of the expression")
        return alts

    def alternatives(self, *, has_previous: bool) -> Alternatives:
        chains = [self.chain(has_previous=has_previous)]
        while self.at_keyword("or"):
            self.next()
            chains.append(self.chain(has_previous=has_previous))
        return Alternatives(tuple(chains))

    def chain(self, *, has_previous: bool) -> Chain:
        items = [self.item(None, has_previous=has_previous)]
        while self.at_keyword("and", "then"):
            connector = self.next().lower
            items.append(self.item(connector, has_previous=True))
        return Chain(tuple(items))

    def item(self, connector: str | None, *, has_previous: bool) -> Item:
        start = self.tok
        if self.at_op("("):
            self.next()
            group = self.alternatives(has_previous=has_previous)
            self.expect_op(")", "to close the group")
            if self.at_keyword("within"):
                raise RuleSyntaxError(
                    "'within' cannot follow a group; put it on the group's first condition",
                    self.tok.offset,
                    len(self.tok.text),
                )
            return Item(group, connector, None, False, start.offset)
        negated = False
        if self.at_keyword("not"):
            self.next()
            negated = True
        node = self.event_atom() if negated else self.event_condition()
        within = None
        if self.at_keyword("within"):
            word = self.next()
            if not has_previous:
                raise RuleSyntaxError(
                    "'within' needs a condition before it (it bounds the time since that condition)",
                    word.offset,
                    len(word.text),
                )
            within = self.duration()
        return Item(node, connector, within, negated, start.offset)

    def duration(self) -> int:
        tok = self.tok
        if tok.kind != "duration":
            self.fail("expected a duration such as 30s, 10m, 2h or 1d")
        self.next()
        return parse_duration(tok.text, tok.offset)

    # event level
    def event_condition(self) -> EventNode:
        if self.at_keyword("event"):
            self.next()
            self.expect_op("(", "after 'event'")
            node = self.ev_or()
            self.expect_op(")", "to close 'event('")
            return node
        return self.condition()

    def event_atom(self) -> EventNode:
        if self.at_op("("):
            self.next()
            node = self.ev_or()
            self.expect_op(")", "to close the parenthesis")
            return node
        return self.event_condition()

    def ev_or(self) -> EventNode:
        parts = [self.ev_and()]
        while self.at_keyword("or"):
            self.next()
            parts.append(self.ev_and())
        return parts[0] if len(parts) == 1 else EvOr(tuple(parts))

    def ev_and(self) -> EventNode:
        parts = [self.ev_not()]
        while self.at_keyword("and"):
            self.next()
            parts.append(self.ev_not())
        return parts[0] if len(parts) == 1 else EvAnd(tuple(parts))

    def ev_not(self) -> EventNode:
        if self.at_keyword("not"):
            self.next()
            return EvNot(self.ev_not())
        if self.at_op("("):
            self.next()
            node = self.ev_or()
            self.expect_op(")", "to close the parenthesis")
            return node
        if self.at_keyword("then", "within"):
            self.fail(f"{self.tok.text!r} is not allowed inside event( … ): it links events of the window")
        return self.condition()

    def condition(self) -> EventNode:
        tok = self.tok
        if self.at_keyword("count"):
            return self.count()
        if tok.kind == "name" and not self._followed_by_operator():
            return self.flag(self.next())
        left = self.value()
        if self.at_keyword("in"):
            self.next()
            return self.membership(left, tok)
        if not (self.tok.kind == "op" and self.tok.text in _COMPARISONS):
            self.fail("expected a comparison (<, <=, >, >=, ==, !=) or 'in'")
        op = self.next().text
        right = self.value()
        return self._check_compare(Compare(left, op, right, tok.offset))

    def _followed_by_operator(self) -> bool:
        nxt = self.tokens[self.i + 1]
        return (nxt.kind == "op" and nxt.text in (*_COMPARISONS, "*")) or (
            nxt.kind == "keyword" and nxt.lower == "in"
        )

    def flag(self, tok: Token) -> Flag:
        name = tok.text
        if name in FLAGS or name in ACTION_FLAGS:
            return Flag(name, tok.offset)
        if name in NUMERIC_FIELDS or name in TEXT_FIELDS or name in USER_STATS or "." in name:
            raise RuleSyntaxError(
                f"{name!r} is a value, not a condition: compare it, e.g. '{name} > 100'",
                tok.offset,
                len(name),
            )
        raise RuleSyntaxError(
            f"unknown predicate {name!r}",
            tok.offset,
            len(name),
            candidates=close_names(name, all_predicate_names()),
        )

    def count(self) -> Count:
        start = self.next()
        self.expect_op("(", "after 'count'")
        cond = self.ev_or()
        self.expect_op(")", "to close 'count('")
        if not (self.tok.kind == "op" and self.tok.text in _COMPARISONS):
            self.fail("expected a comparison after count( … ), e.g. 'count(view) >= 30 within 1m'")
        op = self.next().text
        if self.tok.kind != "number":
            self.fail("expected a whole number after the comparison")
        n = float(self.next().text.replace("_", ""))
        span = None
        if self.at_keyword("within"):
            self.next()
            span = self.duration()
        return Count(cond, op, n, span, start.offset)

    def membership(self, left: Value, start: Token) -> EventNode:
        if not isinstance(left, FieldValue):
            raise RuleSyntaxError("'in' needs an event field on its left, e.g. 'hour in 0-5'", start.offset)
        if self.at_op("["):
            self.next()
            options: list[float | str] = []
            while True:
                tok = self.next()
                if tok.kind == "string" and left.kind == "text":
                    options.append(tok.text[1:-1])
                elif tok.kind == "number" and left.kind == "number":
                    options.append(float(tok.text.replace("_", "")))
                else:
                    want = "quoted text" if left.kind == "text" else "numbers"
                    self.fail(f"expected {want} in the list of {left.name!r}", tok)
                if self.at_op("]"):
                    self.next()
                    return InSet(left, tuple(options), start.offset)
                self.expect_op(",", "between list entries")
        if left.kind != "number":
            self.fail(f'expected a list ["a", "b"] after \'{left.name} in\'')
        low = self.number()
        self.expect_op("-", "in the range, e.g. 'hour in 0-5'")
        high = self.number()
        if low > high and left.name not in WRAPPING_FIELDS:
            raise RuleSyntaxError(
                f"range {low:g}-{high:g} is empty (only hour and weekday ranges wrap around)", start.offset
            )
        return InRange(left, low, high, start.offset)

    def number(self) -> float:
        tok = self.tok
        if tok.kind != "number":
            self.fail("expected a number")
        self.next()
        return float(tok.text.replace("_", ""))

    def value(self) -> Value:
        first = self.term()
        if self.at_op("*"):
            self.next()
            second = self.term()
            number, other = (first, second) if isinstance(first, Const) else (second, first)
            if (
                not isinstance(number, Const)
                or isinstance(other, Const)
                or not isinstance(number.value, float)
            ):
                raise RuleSyntaxError(
                    "'*' multiplies a number and a value, e.g. '40 * user.median'", first.offset
                )
            if isinstance(other, FieldValue) and other.kind != "number":
                raise RuleSyntaxError(f"{other.name!r} is text and cannot be multiplied", other.offset)
            return Scaled(number.value, other, first.offset)
        return first

    def term(self) -> Value:
        tok = self.next()
        if tok.kind == "number":
            return Const(float(tok.text.replace("_", "")), tok.offset)
        if tok.kind == "duration":  # compared with gap / dwell, which are in seconds
            return Const(parse_duration(tok.text, tok.offset) / 1000.0, tok.offset)
        if tok.kind == "string":
            return Const(tok.text[1:-1], tok.offset)
        if tok.kind == "name":
            return self.name_value(tok)
        self.fail("expected a value (a field, user.<stat>, a number or quoted text)", tok)
        raise AssertionError  # fail raises

    def name_value(self, tok: Token) -> Value:
        name = tok.text
        if name in USER_STATS:
            return UserStat(name, tok.offset)
        scope, _, field_name = name.rpartition(".")
        if scope == "user":
            raise RuleSyntaxError(
                f"unknown user statistic {name!r}",
                tok.offset,
                len(name),
                candidates=close_names(name, USER_STATS),
            )
        if scope and scope not in ACTION_FLAGS:
            raise RuleSyntaxError(
                f"unknown action or family {scope!r} in {name!r}",
                tok.offset,
                len(scope),
                candidates=close_names(scope, ACTION_FLAGS),
            )
        if field_name in NUMERIC_FIELDS:
            return FieldValue(field_name, scope or None, "number", tok.offset)
        if field_name in TEXT_FIELDS:
            return FieldValue(field_name, scope or None, "text", tok.offset)
        where = len(scope) + 1 if scope else 0
        raise RuleSyntaxError(
            f"unknown value {field_name!r}",
            tok.offset + where,
            len(field_name),
            candidates=close_names(field_name, all_value_names()),
        )

    def _check_compare(self, node: Compare) -> Compare:
        kinds = [_kind(v) for v in (node.left, node.right)]
        if kinds[0] != kinds[1]:
            raise RuleSyntaxError("cannot compare text with a number", node.offset)
        if kinds[0] == "text" and node.op not in ("==", "!="):
            raise RuleSyntaxError(f"text can only be compared with == or != (got {node.op!r})", node.offset)
        if isinstance(node.left, Const) and isinstance(node.right, Const):
            raise RuleSyntaxError("a comparison needs a field or user statistic on one side", node.offset)
        return node


def _kind(value: Value) -> str:
    if isinstance(value, Const):
        return "text" if isinstance(value.value, str) else "number"
    if isinstance(value, FieldValue):
        return value.kind
    return "number"


def parse_expression(text: str) -> Alternatives:
    """Parse one rule expression.

    Raises
    ------
    RuleSyntaxError
        With the character offset and, for unknown names, the closest valid ones.
    """
    return _Parser(text).parse()
