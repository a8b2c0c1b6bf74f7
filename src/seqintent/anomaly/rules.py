"""Pattern rules: a small declarative language for known fraud patterns, in YAML.

A rule file
-----------
::

    version: 1
    window: 1h                      # default window of every rule (optional)
    rules:
      - name: account_takeover      # unique; letters, digits, _ and -
        when: new_device AND hour in 0-5 AND transfer.amount > user.p99 AND delete_record within 10m
        window: 30m                 # a match lies within this much time (default: the file's, else 1h)
        severity: critical          # low | medium | high | critical (risk from risk.severity_risk) …
        # risk: 90                  # … or the risk (0–100) it adds, instead of severity
        reason: account-takeover pattern   # words used in the result's reasons (default: the name)
        description: free text      # optional
        enabled: true               # optional

Every error names the file and line (and the column inside ``when``), and for an unknown name lists
the closest valid ones. Unknown keys are errors.

The expression grammar
----------------------
::

    rule       := chain ("OR" chain)*
    chain      := step (("AND" | "THEN") step)*
    step       := "(" rule ")"                         a group
                | "NOT" operand ["within" DURATION]
                | condition ["within" DURATION]
    operand    := "(" event_expr ")" | condition
    condition  := "event" "(" event_expr ")"            one event meets all of it
                | "count" "(" event_expr ")" CMP NUMBER ["within" DURATION]
                | value CMP value
                | field "in" NUMBER "-" NUMBER          inclusive; hour and weekday ranges wrap: 22-3
                | field "in" "[" literal ("," literal)* "]"
                | FLAG
    event_expr := event_and ("OR" event_and)*
    event_and  := event_not ("AND" event_not)*
    event_not  := "NOT" event_not | "(" event_expr ")" | condition
    value      := term ["*" term]                       e.g. 40 * user.median
    term       := NUMBER | DURATION | "text" | field | scope "." field | user "." stat
    CMP        := < | <= | > | >= | == | !=             text: == and != only
    DURATION   := NUMBER ("ms" | "s" | "m" | "h" | "d") 500ms, 30s, 10m, 2h, 1d

Keywords (AND, OR, NOT, THEN, within, in, count, event) may be written in any case.

What it means
-------------
A rule looks at a *window* of one user's events: those in ``[t − window, t]`` before an event
at time ``t``. It is checked at every event that meets one of its (not negated) conditions, as a
stream would check it when that event arrives; a match belongs to the session (or user) of its
latest witness event, and each session gets at most one match per rule.

* A condition is about one event: ``transfer`` (its action), ``new_device``, ``amount > 500``,
  ``hour in 0-5``, ``event(transfer AND new_payee AND amount > 10 * user.median)`` (all on the
  same event). A scoped value such as ``transfer.amount`` exists only on transfers, so
  ``transfer.amount > user.p99`` means "a transfer whose amount is above the user's p99".
  A missing value (no amount, too little history for ``user.p99``) meets no comparison.
* ``A AND B``: some event of the window meets A and some (possibly the same) meets B, in any order.
* ``A THEN B``: B is met by a later event than A.
* ``B within D`` after ``A AND`` / ``A THEN``: the event meeting B is at most D from the one meeting
  A (before or after it with AND; after it with THEN). ``within`` always relates a step to the
  step just before it, so in ``new_device AND hour in 0-5 AND transfer.amount > user.p99 AND
  delete_record within 10m`` the record is deleted within 10 minutes of the large transfer.
* ``NOT C``: no event of the window meets C (the window ends at the event being checked, so a
  later event does not count). ``A THEN NOT C within D``: the event meeting A is not followed by
  one meeting C within D; this is settled only by a later event at least D after A.
  ``A AND NOT C within D``: no such event within D either side of A.
* ``count(C) >= N within D``: at least N of the user's events meeting C in the D before this event
  (before the window's start too); without ``within``, over the user's whole history given.
* ``X OR Y``: either alternative matches; ``( … )`` groups alternatives inside a chain.
* A name that is both an action and a family (``search``, ``review``) means the action.

Predicates (FLAG)
    ``new_device``, ``new_payee``, ``new_location``, ``first_touch``, ``unusual_hour``, ``over_p99``,
    ``new_user`` (see :mod:`seqintent.anomaly.features`); every canonical action (``login``, ``transfer``,
    ``delete_record`` …) and every action family (``payment``, ``account``, ``browse`` …).
Fields
    numbers: ``amount``, ``hour`` (local, 0–23), ``weekday`` (0 = Monday), ``dwell`` (s), ``gap``
    (s since the user's previous event), ``amount_ratio``, ``amount_z``, ``hour_prob``,
    ``hour_distance``, ``device_share``, ``history``; text: ``action``, ``family``, ``item``,
    ``payee``, ``category``, ``device``, ``location``. Durations compared with ``gap`` / ``dwell``
    are read in seconds (``gap < 2s``).
User statistics
    ``user.median``, ``user.mad``, ``user.p90``, ``user.p99``, ``user.max`` (of the user's recent
    amounts, see :mod:`seqintent.anomaly.profile`), ``user.events``.

Example
-------
>>> rules = RuleSet.from_yaml('''
... rules:
...   - name: burst
...     when: count(view) >= 3 within 1m
...     severity: medium
... ''')
>>> [r.name for r in rules], rules[0].window_ms
(['burst'], 3600000)
>>> RuleSet.from_yaml("rules:\\n  - name: x\\n    when: new_devce AND transfer\\n", file="r.yaml")
Traceback (most recent call last):
seqintent.anomaly.rules.RuleError: r.yaml:3, rules[0].when: column 11: unknown predicate 'new_devce'
  candidates: 'new_device', 'change_device', 'new_payee'
  fix: use one of the predicates listed in seqintent.anomaly.rules (or `seqintent anomaly rules --list`)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from seqintent.anomaly._rule_lang import (
    ACTION_FLAGS,
    FLAGS,
    NUMERIC_FIELDS,
    TEXT_FIELDS,
    USER_STATS,
    Alternatives,
    RuleSyntaxError,
    parse_duration,
    parse_expression,
)
from seqintent.anomaly.config import LEVELS
from seqintent.errors import ConfigError, close_names

DEFAULT_WINDOW_MS = 3_600_000
_TOP_KEYS = ("version", "window", "rules")
_RULE_KEYS = ("name", "when", "window", "severity", "risk", "reason", "description", "enabled")
_PREDICATE_FIX = (
    "use one of the predicates listed in seqintent.anomaly.rules (or `seqintent anomaly rules --list`)"
)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


class RuleError(ConfigError):
    """A rule file is invalid; the message names the file, the line and what to write instead.

    >>> raise RuleError("unknown key", file="rules.yaml", line=4, key="rules[0].sevrity")
    Traceback (most recent call last):
    seqintent.anomaly.rules.RuleError: rules.yaml:4, rules[0].sevrity: unknown key
    """


@dataclass(frozen=True, eq=False)
class Rule:
    """One validated rule. ``risk`` is None when the rule gives a ``severity`` instead."""

    name: str
    when: str
    expr: Alternatives
    window_ms: int
    severity: str | None
    risk: float | None
    reason: str
    description: str
    enabled: bool
    line: int

    def risk_of(self, severity_risk: dict[str, float]) -> float:
        """The risk (0–100) this rule adds when it matches."""
        return self.risk if self.risk is not None else severity_risk[self.severity or "high"]


class RuleSet:
    """Validated rules, in file order, with the text they came from (saved verbatim)."""

    def __init__(self, rules: list[Rule], text: str = "", file: str | None = None) -> None:
        self.rules = rules
        self.text = text
        self.file = file

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __getitem__(self, index: int) -> Rule:
        return self.rules[index]

    @property
    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    @classmethod
    def empty(cls) -> RuleSet:
        return cls([], "rules: []\n")

    @classmethod
    def from_yaml(cls, text: str, *, file: str | None = None) -> RuleSet:
        """Parse and validate a rule file's text.

        Raises
        ------
        RuleError
            On YAML syntax errors, unknown or missing keys, bad values and expression errors,
            naming the line (and the column inside ``when``).
        """
        return _Loader(text, file).load()


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rule file (see the module documentation for the language).

    Raises
    ------
    RuleError
        If the file is missing or invalid; the message names the line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleError("no such rule file", file=str(path)) from None
    return RuleSet.from_yaml(text, file=str(path))


def example_rules_path(name: str) -> Path:
    """The shipped example rule file ``name`` (``"finance"``): copy it and edit it.

    Raises
    ------
    RuleError
        If there is no such example; the message lists the ones there are.
    """
    folder = Path(__file__).parent / "examples"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in folder.glob("*.yaml"))
        raise RuleError("no such example rule file", value=name, candidates=close_names(name, names))
    return path


def predicate_catalogue() -> dict[str, dict[str, str]]:
    """Every name the language knows, with a line on each (for ``seqintent anomaly rules --list``)."""
    return {
        "flags": dict(FLAGS),
        "actions_and_families": {name: "the event's action (or family)" for name in ACTION_FLAGS},
        "number_fields": dict(NUMERIC_FIELDS),
        "text_fields": dict(TEXT_FIELDS),
        "user_statistics": dict(USER_STATS),
    }


class _Loader:
    def __init__(self, text: str, file: str | None) -> None:
        self.text = text
        self.file = file

    def error(self, message: str, node: yaml.Node | None, key: str | None = None, **kw: Any) -> RuleError:
        line = node.start_mark.line + 1 if node is not None else None
        return RuleError(message, file=self.file, line=line, key=key, **kw)

    def load(self) -> RuleSet:
        try:
            root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = f"not valid YAML: {exc.problem or exc}"
            if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
                message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
            raise RuleError(
                message, file=self.file, line=mark.line + 1 if mark is not None else None
            ) from None
        if root is None:
            raise RuleError(
                "the rule file is empty", file=self.file, fix="write `rules:` with a list of rules"
            )
        top = self.mapping(root, "(top level)", _TOP_KEYS)
        version = top.get("version")
        if version is not None and self.scalar(version) not in ("1", 1):
            raise self.error("unsupported rule file version (supported: 1)", version, key="version")
        default_window = self.duration(top["window"], "window") if "window" in top else DEFAULT_WINDOW_MS
        if "rules" not in top:
            raise self.error("missing key 'rules'", root, fix="add `rules:` with a list of rules")
        rules_node = top["rules"]
        if not isinstance(rules_node, yaml.SequenceNode):
            raise self.error("'rules' must be a list of rules", rules_node, key="rules")
        rules: list[Rule] = []
        names: dict[str, int] = {}
        for i, node in enumerate(rules_node.value):
            rule = self.rule(node, f"rules[{i}]", default_window)
            if rule.name in names:
                raise self.error(
                    f"duplicate rule name {rule.name!r} (first at line {names[rule.name]})",
                    node,
                    key=f"rules[{i}].name",
                )
            names[rule.name] = rule.line
            rules.append(rule)
        return RuleSet(rules, self.text, self.file)

    def mapping(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"expected a mapping of {', '.join(allowed)}", node, key=where)
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in allowed:
                raise self.error(
                    "unknown key",
                    key_node,
                    key=key if where == "(top level)" else f"{where}.{key}",
                    candidates=close_names(key, allowed),
                )
            if key in out:
                raise self.error("key given twice", key_node, key=f"{where}.{key}")
            out[key] = value_node
        return out

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return None
        return (
            yaml.safe_load(self.text[node.start_mark.index : node.end_mark.index])
            if node.style is None
            else node.value
        )

    def text_of(self, node: yaml.Node, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise self.error("expected non-empty text", node, key=key)
        return str(node.value).strip()

    def duration(self, node: yaml.Node, key: str) -> int:
        text = self.text_of(node, key)
        try:
            ms = parse_duration(text)
        except RuleSyntaxError as exc:
            raise self.error(exc.message, node, key=key) from None
        if ms <= 0:
            raise self.error("a duration must be positive", node, key=key, value=text)
        return ms

    def rule(self, node: yaml.Node, where: str, default_window: int) -> Rule:
        fields = self.mapping(node, where, _RULE_KEYS)
        for required in ("name", "when"):
            if required not in fields:
                raise self.error(f"missing key {required!r}", node, key=where)
        name = self.text_of(fields["name"], f"{where}.name")
        if not _NAME.match(name):
            raise self.error(
                "a rule name starts with a letter and holds letters, digits, '_' or '-'",
                fields["name"],
                key=f"{where}.name",
                value=name,
            )
        when_node = fields["when"]
        when = self.text_of(when_node, f"{where}.when")
        try:
            expr = parse_expression(str(when_node.value))
        except RuleSyntaxError as exc:
            line, column = self.locate(when_node, str(when_node.value), exc.offset)
            raise RuleError(
                f"column {column}: {exc.message}",
                file=self.file,
                line=line,
                key=f"{where}.when",
                candidates=exc.candidates,
                fix=_PREDICATE_FIX if exc.candidates else None,
            ) from None
        window = self.duration(fields["window"], f"{where}.window") if "window" in fields else default_window
        longest = _longest_within(expr)
        if longest > window:
            raise self.error(
                f"a 'within' of {longest / 1000:g} s is longer than the rule's window of {window / 1000:g} s",
                fields.get("window", when_node),
                key=f"{where}.window",
                fix="make the window at least as long as every 'within'",
            )
        severity, risk = self.severity_and_risk(fields, where)
        enabled_node = fields.get("enabled")
        enabled = True if enabled_node is None else self.scalar(enabled_node)
        if not isinstance(enabled, bool):
            raise self.error("expected true or false", enabled_node, key=f"{where}.enabled")
        reason = self.text_of(fields["reason"], f"{where}.reason") if "reason" in fields else name
        description = (
            self.text_of(fields["description"], f"{where}.description") if "description" in fields else ""
        )
        return Rule(
            name, when, expr, window, severity, risk, reason, description, enabled, node.start_mark.line + 1
        )

    def severity_and_risk(self, fields: dict[str, yaml.Node], where: str) -> tuple[str | None, float | None]:
        if "severity" in fields and "risk" in fields:
            raise self.error("give 'severity' or 'risk', not both", fields["risk"], key=f"{where}.risk")
        if "risk" in fields:
            risk = self.scalar(fields["risk"])
            if isinstance(risk, bool) or not isinstance(risk, (int, float)) or not 0 <= risk <= 100:
                raise self.error(
                    "expected a number from 0 to 100", fields["risk"], key=f"{where}.risk", value=risk
                )
            return None, float(risk)
        if "severity" in fields:
            severity = self.text_of(fields["severity"], f"{where}.severity")
            if severity not in LEVELS:
                raise self.error(
                    "unknown severity",
                    fields["severity"],
                    key=f"{where}.severity",
                    value=severity,
                    candidates=list(LEVELS),
                )
            return severity, None
        return "high", None

    def locate(self, node: yaml.ScalarNode, value: str, offset: int) -> tuple[int, int]:
        """File line and column (1-based) of character ``offset`` of a scalar's value.

        Folding and quoting change whitespace, not tokens: find the same occurrence of the
        token in the raw source of the node.
        """
        token = re.match(r"\S+", value[offset:])
        needle = token.group() if token else ""
        raw_start, raw_end = node.start_mark.index, node.end_mark.index
        raw = self.text[raw_start:raw_end]
        at = -1
        if needle:
            occurrence = value[:offset].count(needle)
            for _ in range(occurrence + 1):
                at = raw.find(needle, at + 1)
                if at < 0:
                    break
        position = raw_start + (at if at >= 0 else 0)
        line = self.text.count("\n", 0, position) + 1
        column = position - (self.text.rfind("\n", 0, position) + 1) + 1
        return line, column


def _longest_within(expr: Alternatives) -> int:
    longest = 0
    for chain in expr.chains:
        for item in chain.items:
            if isinstance(item.node, Alternatives):
                longest = max(longest, _longest_within(item.node))
            elif item.within_ms is not None:
                longest = max(longest, item.within_ms)
    return longest
