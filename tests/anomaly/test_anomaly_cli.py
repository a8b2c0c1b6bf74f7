"""The `seqintent anomaly` commands, checked through their effect and the Python API."""

import json

import pytest
from click.testing import CliRunner

from seqintent.anomaly import AnomalyDetector
from seqintent.cli import main
from tests.anomaly.anomaly_fixtures import habitual_history, normal_day, takeover

RULES = """\
rules:
  - name: account_takeover
    when: new_device AND hour in 0-5 AND transfer.amount > user.p99 AND delete_record within 10m
    severity: critical
"""


def _jsonl(path, events):
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


@pytest.fixture
def model(tmp_path):
    history = _jsonl(tmp_path / "history.jsonl", habitual_history())
    (tmp_path / "rules.yaml").write_text(RULES)
    result = CliRunner().invoke(
        main,
        [
            "anomaly",
            "fit",
            history,
            "-o",
            str(tmp_path / "model"),
            "--rules",
            str(tmp_path / "rules.yaml"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "model": str(tmp_path / "model"),
        "users": 1,
        "events": 60,
        "rules": ["account_takeover"],
        "surprise": None,
    }
    return tmp_path / "model"


def test_fit_writes_a_model_the_api_loads(model):
    detector = AnomalyDetector.load(model)
    assert [r.name for r in detector.rules] == ["account_takeover"]
    assert detector.profiles_["ann"].n_events == 60


def test_score_json_gives_one_object_per_session(model, tmp_path):
    events = _jsonl(tmp_path / "today.jsonl", takeover() + normal_day())
    result = CliRunner().invoke(main, ["anomaly", "score", str(model), "--events", events, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["sessions"] == 2 and out["levels"] == {"low": 1, "medium": 0, "high": 0, "critical": 1}
    first, second = out["results"]
    assert {k: first[k] for k in ("level", "action")} == {"level": "critical", "action": "hold_for_review"}
    assert first["reasons"][0].startswith('account_takeover: login at 02:00 → transfer 4,000.00 to "acct-77"')
    assert (second["score"], second["level"], second["reasons"], second["action"]) == (
        0.0,
        "low",
        [],
        "allow",
    )
    assert first == AnomalyDetector.load(model).score(takeover() + normal_day())[0].to_dict()


def test_score_jsonl_and_min_level(model, tmp_path):
    events = _jsonl(tmp_path / "today.jsonl", takeover() + normal_day())
    result = CliRunner().invoke(
        main, ["anomaly", "score", str(model), "--events", events, "--jsonl", "--min-level", "high"]
    )
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["level"] == "critical"


def test_human_output_lists_reasons(model, tmp_path):
    events = _jsonl(tmp_path / "today.jsonl", takeover())
    result = CliRunner().invoke(main, ["anomaly", "score", str(model), "--events", events])
    assert result.exit_code == 0
    assert "critical  hold_for_review" in result.output
    assert '    - payee never seen: "acct-77"' in result.output


def test_a_rule_file_with_an_error_is_refused_naming_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    when: login AND new_devise\n")
    result = CliRunner().invoke(main, ["anomaly", "rules", str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad}:3, rules[0].when: column 21: unknown predicate 'new_devise'" in result.output
    history = _jsonl(tmp_path / "h.jsonl", habitual_history(days=2))
    result = CliRunner().invoke(
        main, ["anomaly", "fit", history, "-o", str(tmp_path / "m"), "--rules", str(bad)]
    )
    assert result.exit_code == 2 and ":3," in result.output
    assert not (tmp_path / "m").exists()


def test_rules_check_and_list(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(RULES)
    result = CliRunner().invoke(main, ["anomaly", "rules", str(good), "--json"])
    assert json.loads(result.output)["rules"][0] == {
        "name": "account_takeover",
        "line": 2,
        "when": "new_device AND hour in 0-5 AND transfer.amount > user.p99 AND delete_record within 10m",
        "window_s": 3600.0,
        "severity": "critical",
        "risk": None,
        "enabled": True,
    }
    listed = json.loads(CliRunner().invoke(main, ["anomaly", "rules", "--list", "--json"]).output)
    assert "new_device" in listed["flags"]


def test_a_bad_config_names_the_key(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("risk:\n  levles: {high: 70}\n")
    history = _jsonl(tmp_path / "h.jsonl", habitual_history(days=2))
    result = CliRunner().invoke(
        main, ["anomaly", "fit", history, "-o", str(tmp_path / "m"), "--config", str(config)]
    )
    assert result.exit_code == 2
    assert "risk.levles: unknown key" in result.output and "'levels'" in result.output


@pytest.mark.parametrize(
    "command", [["anomaly"], ["anomaly", "fit"], ["anomaly", "score"], ["anomaly", "rules"]]
)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "seqintent anomaly" in result.output
