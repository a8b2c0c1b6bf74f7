"""The rule expression language: the names it knows, its tokens and its syntax tree.

The grammar, the meaning and the predicates are documented in :mod:`seqintent.anomaly.rules`;
:mod:`~seqintent.anomaly._rule_parser` turns one ``when:`` text into a tree of these nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
