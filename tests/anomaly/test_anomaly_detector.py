"""The detector end to end on hand-written histories: exact scores, levels, reasons and actions."""

import json

import pytest

from seqintent.anomaly import AnomalyConfig, AnomalyDetector, RiskConfig, RuleSet
from seqintent.errors import ArtifactError, NotFittedError
from tests.anomaly.anomaly_fixtures import D, H, habitual_history, normal_day, takeover

ATO_RULES = """\
rules:
  - name: account_takeover
    when: new_device AND hour in 0-5 AND transfer.amount > user.p99 AND delete_record within 10m
    severity: critical
    reason: account-takeover pattern
"""


@pytest.fixture
def detector() -> AnomalyDetector:
    return AnomalyDetector(rules=RuleSet.from_yaml(ATO_RULES)).fit(habitual_history())


def test_a_takeover_is_critical_with_the_right_reasons(detector):
    (result,) = detector.score(takeover())
    assert result.user_id == "ann" and result.n_events == 4
    # noisy-OR of .95 (rule), .5 (amount 35× ≥ 30×), .35, .30, .25
    assert result.score == pytest.approx(round(100 * (1 - 0.05 * 0.5 * 0.65 * 0.7 * 0.75), 1))
    assert (result.level, result.action) == ("critical", "hold_for_review")
    assert [r.text for r in result.reasons] == [
        'account-takeover pattern (rule "account_takeover"): login at 02:00 → '
        'transfer 4,000.00 to "acct-77" at 02:03 → delete_record at 02:05',
        "amount 4,000.00 is 35× the user's median (114.50)",
        'new device "laptop-x" (usual: "phone")',
        'payee never seen: "acct-77"',
        "active at 02:00, usually 09:00–10:00",
    ]
    assert [r.rows for r in result.reasons] == [(0, 2, 3), (2,), (0, 1, 2, 3), (2,), (0, 1, 2, 3)]


def test_a_normal_day_is_low_with_no_reasons(detector):
    (result,) = detector.score(normal_day())
    assert (result.score, result.level, result.action, result.reasons) == (0.0, "low", "allow", ())


def test_one_result_per_session_in_user_then_time_order(detector):
    events = normal_day(day=41) + takeover(day=40) + normal_day(user="bob", day=40)
    results = detector.score(events)
    assert [(r.user_id, r.level) for r in results] == [("ann", "critical"), ("ann", "low"), ("bob", "low")]
    assert results[0].rows == (2, 3, 4, 5) and results[1].rows == (0, 1)


def test_a_new_phone_alone_asks_for_step_up(detector):
    day = [
        {"user_id": "ann", "ts": 45 * D + 9 * H, "action": "login", "device": "phone-2", "location": "Berlin"}
    ]
    (result,) = detector.score(day)
    assert (result.score, result.level, result.action) == (35.0, "medium", "step_up")
    assert [r.text for r in result.reasons] == ['new device "phone-2" (usual: "phone")']


def test_thresholds_and_actions_come_from_config():
    config = AnomalyConfig.model_validate({"risk": {"levels": {"medium": 40}, "actions": {"low": "step_up"}}})
    detector = AnomalyDetector(config).fit(habitual_history())
    day = [{"user_id": "ann", "ts": 45 * D + 9 * H, "action": "login", "device": "phone-2"}]
    (result,) = detector.score(day)
    assert (result.score, result.level, result.action) == (35.0, "low", "step_up")


def test_per_user_unit():
    config = AnomalyConfig(unit="user")
    detector = AnomalyDetector(config).fit(habitual_history())
    (result,) = detector.score(takeover(day=40) + normal_day(day=41))
    assert result.unit == "ann" and result.n_events == 6 and result.level == "high"


def test_scores_are_deterministic_and_the_input_is_not_changed(detector):
    events = takeover() + normal_day()
    copy = json.loads(json.dumps(events))
    first = [r.to_dict() for r in detector.score(events)]
    second = [
        r.to_dict()
        for r in AnomalyDetector(rules=RuleSet.from_yaml(ATO_RULES)).fit(habitual_history()).score(events)
    ]
    assert first == second
    assert events == copy


def test_scoring_does_not_learn_but_update_does(detector):
    day = [{"user_id": "ann", "ts": 45 * D + 9 * H, "action": "login", "device": "phone-2"}]
    assert detector.score(day)[0].score == 35.0
    assert detector.score(day)[0].score == 35.0
    detector.update(day)
    assert detector.score(day)[0].score == 0.0


def test_save_and_load_keep_the_scores(detector, tmp_path):
    detector.save(tmp_path / "model")
    loaded = AnomalyDetector.load(tmp_path / "model")
    events = takeover() + normal_day()
    assert [r.to_dict() for r in loaded.score(events)] == [r.to_dict() for r in detector.score(events)]
    assert loaded.config == detector.config and loaded.rules.text == ATO_RULES
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert (manifest["kind"], manifest["users"], manifest["events"], manifest["rules"]) == (
        "seqintent.anomaly",
        1,
        60,
        ["account_takeover"],
    )


def test_a_bad_folder_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="no such folder"):
        AnomalyDetector.load(tmp_path / "nope")


def test_scoring_before_fit_is_refused():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        AnomalyDetector().score(normal_day())


def test_score_table_has_fixed_columns(detector):
    table = detector.score_table(takeover() + normal_day())
    assert table.column_names == ["user_id", "session", "score", "level", "action", "reasons", "n_events"]
    assert table.column("level").to_pylist() == ["critical", "low"]


def test_amount_signal_ramps_between_its_ratios():
    detector = AnomalyDetector(AnomalyConfig(risk=RiskConfig(amount_ratio_low=2, amount_ratio_high=8))).fit(
        habitual_history()
    )

    def score(amount):
        event = {
            "user_id": "ann",
            "ts": 45 * D + 9 * H,
            "action": "transfer",
            "item_id": "mum",
            "amount": amount,
            "device": "phone",
        }
        return detector.score([event])[0].score

    median = 114.5
    assert score(median) == 0.0
    assert score(2 * median) == 0.0
    assert score(4 * median) == 25.0  # half way on the log scale: .5 · .5
    assert score(8 * median) == 50.0 and score(80 * median) == 50.0


def test_replay_learns_after_each_day_and_keeps_input_rows():
    detector = AnomalyDetector().fit(habitual_history())
    phone2 = {"action": "login", "device": "phone-2", "location": "Berlin", "user_id": "ann"}
    events = [
        {**phone2, "ts": 46 * D + 9 * H},  # day 46: a new phone, scored before it is learned
        {**phone2, "ts": 45 * D + 9 * H},  # day 45 (input order is not time order)
        {**phone2, "ts": 45 * D + 9 * H + 60_000},
    ]
    results = detector.replay(events)
    assert [(r.rows, r.score, r.level) for r in results] == [((1, 2), 35.0, "medium"), ((0,), 0.0, "low")]
    assert results[0].reasons[0].rows == (1, 2)
    assert detector.profiles_["ann"].devices["phone-2"].count == 3
