"""Rule files: what is accepted, and errors that name the line, the column and the fix."""

import pytest

from seqintent.anomaly import RuleError, RuleSet, load_rules, predicate_catalogue
from seqintent.anomaly._rule_lang import (
    Alternatives,
    Compare,
    Count,
    EvAnd,
    Flag,
    InRange,
    Scaled,
    parse_expression,
)

GOOD = """\
version: 1
window: 2h
rules:
  - name: account_takeover
    when: new_device AND hour in 0-5 AND transfer.amount > user.p99 AND delete_record within 10m
    window: 30m
    severity: critical
    reason: account-takeover pattern
  - name: burst
    when: count(view) >= 30 within 1m
    risk: 40
  - name: night-owl
    when: >-
      login THEN
      event(transfer AND amount > 40 * user.median)
    enabled: false
"""


def test_a_good_file_is_read_with_windows_risks_and_reasons():
    rules = RuleSet.from_yaml(GOOD, file="rules.yaml")
    assert [r.name for r in rules] == ["account_takeover", "burst", "night-owl"]
    ato, burst, owl = rules
    assert (ato.window_ms, ato.severity, ato.risk, ato.reason, ato.line) == (
        1_800_000,
        "critical",
        None,
        "account-takeover pattern",
        4,
    )
    assert ato.risk_of({"low": 25, "medium": 50, "high": 80, "critical": 95}) == 95
    assert (burst.window_ms, burst.risk, burst.severity, burst.reason) == (7_200_000, 40.0, None, "burst")
    assert owl.enabled is False and [r.name for r in rules.enabled] == ["account_takeover", "burst"]
    assert rules.text == GOOD


def test_the_example_expression_parses_into_a_chain_of_four_steps():
    tree = parse_expression(
        "new_device AND hour in 0-5 AND transfer.amount > user.p99 AND delete_record within 10m"
    )
    (chain,) = tree.chains
    steps = chain.items
    assert [s.connector for s in steps] == [None, "and", "and", "and"]
    assert [s.within_ms for s in steps] == [None, None, None, 600_000]
    assert isinstance(steps[0].node, Flag) and steps[0].node.name == "new_device"
    assert isinstance(steps[1].node, InRange) and (steps[1].node.low, steps[1].node.high) == (0, 5)
    compare = steps[2].node
    assert (
        isinstance(compare, Compare) and compare.left.scope == "transfer" and compare.right.name == "user.p99"
    )


def test_keywords_in_any_case_groups_counts_and_scaling():
    tree = parse_expression(
        "(new_device or new_location) and Count(view) >= 3 within 1m OR event(pay AND amount > 2 * user.max)"
    )
    assert len(tree.chains) == 2
    first, second = tree.chains
    assert isinstance(first.items[0].node, Alternatives)
    assert isinstance(first.items[1].node, Count) and first.items[1].node.span_ms == 60_000
    same_event = second.items[0].node
    assert isinstance(same_event, EvAnd)
    assert isinstance(same_event.parts[1].right, Scaled) and same_event.parts[1].right.factor == 2.0


def _error(text: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        RuleSet.from_yaml(text, file="r.yaml")
    return info.value


def test_unknown_predicate_names_line_column_and_candidates():
    err = _error(
        "rules:\n  - name: a\n    when: ok_rule\n  - name: b\n    when: login AND new_devce\n".replace(
            "ok_rule", "login"
        )
    )
    assert err.line == 5
    assert err.key == "rules[1].when"
    assert err.candidates[0] == "new_device"
    assert str(err).startswith("r.yaml:5, rules[1].when: column 21: unknown predicate 'new_devce'")
    assert "fix: use one of the predicates" in str(err)


def test_an_error_inside_a_folded_multi_line_expression_names_its_own_line():
    text = "rules:\n  - name: a\n    when: >-\n      login\n      THEN transfer\n"
    err = _error(text + "      AND hour in 0-5 AND payee_x\n")
    assert err.line == 6
    assert "column 27: unknown predicate 'payee_x'" in str(err)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("rules:\n  - name: a\n    when: login\n    sevrity: high\n", 4, "rules[0].sevrity: unknown key"),
        ("rule:\n  - name: a\n", 1, "rule: unknown key"),
        ("rules:\n  - when: login\n", 2, "missing key 'name'"),
        (
            "rules:\n  - name: a\n    when: login\n  - name: a\n    when: logout\n",
            4,
            "duplicate rule name 'a' (first at line 2)",
        ),
        (
            "rules:\n  - name: a\n    when: login\n    window: 10 minutes\n",
            4,
            "expected a duration such as 30s",
        ),
        ("rules:\n  - name: a\n    when: login\n    severity: severe\n", 4, "unknown severity"),
        ("rules:\n  - name: a\n    when: login\n    risk: 140\n", 4, "expected a number from 0 to 100"),
        (
            "rules:\n  - name: a\n    when: login\n    risk: 40\n    severity: low\n",
            4,
            "give 'severity' or 'risk', not both",
        ),
        ("rules:\n  - name: a\n    when: login within 5m\n", 3, "'within' needs a condition before it"),
        (
            "rules:\n  - name: a\n    when: login AND logout within 2h\n    window: 1h\n",
            4,
            "longer than the rule's window",
        ),
        ("rules:\n  - name: a\n    when: login AND\n", 3, "expected a value"),
        ('rules:\n  - name: a\n    when: amount > "big"\n', 3, "cannot compare text with a number"),
        ('rules:\n  - name: a\n    when: device > "x"\n', 3, "text can only be compared with == or !="),
        ("rules:\n  - name: a\n    when: user.p99\n", 3, "'user.p99' is a value, not a condition"),
        ("rules:\n  - name: a\n    when: amount > user.p95\n", 3, "unknown user statistic 'user.p95'"),
        ("rules:\n  - name: a\n    when: trasfer.amount > 5\n", 3, "unknown action or family 'trasfer'"),
        ("rules:\n  - name: a\n    when: amount in 9-3\n", 3, "range 9-3 is empty"),
        (
            "rules:\n  - name: a\n    when: (login AND logout) within 5m\n",
            3,
            "'within' cannot follow a group",
        ),
        ("rules:\n  - name: a\n    when: login $ logout\n", 3, "unexpected character '$'"),
        (
            "rules:\n  - name: a\n    when: [login\n",
            4,
            "(while parsing a flow sequence that starts at line 3)",
        ),
        ("rules:\n  - name: 9a\n    when: login\n", 2, "a rule name starts with a letter"),
        ("rules:\n  - name: a\n    when: login\n    enabled: maybe\n", 4, "expected true or false"),
        ("version: 2\nrules: []\n", 1, "unsupported rule file version"),
        ("", None, "the rule file is empty"),
    ],
)
def test_invalid_rule_files_are_refused_naming_the_line(text, line, message):
    err = _error(text)
    assert err.line == line
    assert message in str(err)
    assert err.file == "r.yaml"


def test_load_rules_reads_a_file_and_names_a_missing_one(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    assert len(load_rules(path)) == 3
    with pytest.raises(RuleError, match="no such rule file"):
        load_rules(tmp_path / "missing.yaml")


def test_catalogue_lists_every_kind_of_name():
    catalogue = predicate_catalogue()
    assert "new_device" in catalogue["flags"]
    assert "delete_record" in catalogue["actions_and_families"]
    assert "payment" in catalogue["actions_and_families"]
    assert "user.p99" in catalogue["user_statistics"]
    assert "hour" in catalogue["number_fields"] and "device" in catalogue["text_fields"]
