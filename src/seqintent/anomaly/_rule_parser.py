"""The rule expression parser: one ``when:`` text → a syntax tree (:mod:`._rule_lang`).

Recursive descent over the grammar documented in :mod:`seqintent.anomaly.rules`. A problem raises
:class:`RuleSyntaxError` with the character offset (``rules.py`` turns it into a file line and
column) and, for an unknown name, the closest valid ones.
"""

from __future__ import annotations

from seqintent.anomaly._rule_lang import (
    ACTION_FLAGS,
    FLAGS,
    NUMERIC_FIELDS,
    TEXT_FIELDS,
    USER_STATS,
    WRAPPING_FIELDS,
    Alternatives,
    Chain,
    Compare,
    Const,
    Count,
    EvAnd,
    EventNode,
    EvNot,
    EvOr,
    FieldValue,
    Flag,
    InRange,
    InSet,
    Item,
    RuleSyntaxError,
    Scaled,
    Token,
    UserStat,
    Value,
    all_predicate_names,
    all_value_names,
    parse_duration,
    tokenize,
)
from seqintent.errors import close_names

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
        if self.at_keyword("event"):  # already about one event: event( … ) only groups here
            return self.event_condition()
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
