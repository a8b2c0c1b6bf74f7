"""What rule expressions mean, on tiny hand-written event lists (rows are input positions)."""

import pytest

from seqintent.anomaly import AnomalyDetector, RuleSet
from tests.anomaly.anomaly_fixtures import D, H, M, habitual_history

DAY = 50 * D + 10 * H  # an ordinary 10:00 for the scored events


def matches(when: str, events: list[dict], *, window: str = "1h", history=None) -> list[tuple[int, ...]]:
    """Input rows of the witnesses of each match of the rule, one entry per matched session."""
    rules = RuleSet.from_yaml(f"rules:\n  - name: r\n    when: {when}\n    window: {window}\n")
    detector = AnomalyDetector(rules=rules).fit(history if history is not None else habitual_history())
    found = []
    for result in detector.score(events):
        found += [reason.rows for reason in result.reasons if reason.kind == "rule:r"]
    return found


def ev(minute: float, action: str, **fields) -> dict:
    return {"user_id": "ann", "ts": int(DAY + minute * M), "action": action, "device": "phone", **fields}


def test_and_matches_in_any_order():
    events = [ev(0, "delete_record"), ev(2, "transfer", item_id="mum", amount=100.0)]
    assert matches("transfer AND delete_record", events) == [(0, 1)]


def test_then_needs_the_written_order_and_a_later_event():
    events = [ev(0, "delete_record"), ev(2, "transfer", item_id="mum", amount=100.0)]
    assert matches("transfer THEN delete_record", events) == []
    assert matches("delete_record THEN transfer", events) == [(0, 1)]
    assert matches("transfer THEN transfer", events) == []
    assert matches("transfer AND transfer", events) == [(1,)]  # AND may reuse the same event


@pytest.mark.parametrize(("minutes", "expected"), [(9, [(0, 1)]), (11, []), (-5, [(0, 1)])])
def test_within_bounds_the_time_from_the_previous_step(minutes, expected):
    events = [ev(10, "transfer", item_id="mum", amount=100.0), ev(10 + minutes, "delete_record")]
    events.sort(key=lambda e: e["ts"])
    assert matches("transfer AND delete_record within 10m", events) == expected


def test_then_within_counts_only_later_events():
    events = [ev(0, "delete_record"), ev(3, "transfer", item_id="mum", amount=100.0)]
    assert matches("transfer THEN delete_record within 10m", events) == []


def test_within_relates_to_the_step_just_before():
    # login 40 min before the transfer: fine, only the delete must be within 10 min of the transfer
    events = [ev(0, "login"), ev(40, "transfer", item_id="mum", amount=100.0), ev(45, "delete_record")]
    assert matches("login AND transfer AND delete_record within 10m", events) == [(0, 1, 2)]


def test_a_match_must_fit_in_the_window():
    events = [ev(0, "login"), ev(20, "transfer", item_id="mum", amount=100.0)]
    assert matches("login AND transfer", events, window="10m") == []
    assert matches("login AND transfer", events, window="30m") == [(0, 1)]


def test_not_means_no_such_event_in_the_window_up_to_the_checked_event():
    logout_first = [ev(0, "logout"), ev(1, "transfer", item_id="mum", amount=100.0)]
    assert matches("transfer AND NOT logout", logout_first) == []
    assert matches("transfer AND NOT delete_record", logout_first) == [(1,)]
    # the window ends at the transfer: a later logout does not undo what was true then
    logout_after = [ev(0, "transfer", item_id="mum", amount=100.0), ev(1, "logout")]
    assert matches("transfer AND NOT logout", logout_after) == [(0,)]


@pytest.mark.parametrize(("minutes", "expected"), [(3, []), (7, [(0,)])])
def test_then_not_within_is_confirmed_by_a_later_event(minutes, expected):
    events = [ev(0, "transfer", item_id="mum", amount=100.0), ev(minutes, "logout")]
    assert matches("transfer THEN NOT logout within 5m", events) == expected


def test_then_not_within_is_not_confirmed_without_a_later_event():
    events = [ev(0, "transfer", item_id="mum", amount=100.0), ev(2, "view", item_id="x")]
    assert matches("transfer THEN NOT logout within 5m", events) == []


def test_count_within_a_trailing_span():
    fast = [ev(s / 60, "view", item_id=f"i{s}") for s in (0, 20, 50)]
    slow = [ev(100 + s, "view", item_id=f"j{s}") for s in (0, 1, 2)]
    assert matches("count(view) >= 3 within 1m", fast) == [(2,)]
    assert matches("count(view) >= 3 within 1m", slow) == []


def test_event_needs_one_event_to_meet_every_part():
    # a transfer to a known payee, and a new payee paid by `pay`
    events = [ev(0, "transfer", item_id="mum", amount=100.0), ev(1, "pay", item_id="shop-9", amount=20.0)]
    assert matches("transfer AND new_payee", events) == [(0, 1)]
    assert matches("event(transfer AND new_payee)", events) == []
    assert matches("event(payment AND new_payee)", events) == [(1,)]


def test_scoped_value_exists_only_on_that_action():
    events = [ev(0, "pay", item_id="mum", amount=5000.0)]
    assert matches("transfer.amount > 1000", events) == []
    assert matches("pay.amount > 1000", events) == [(0,)]
    assert matches("payment.amount > 1000", events) == [(0,)]  # a family scope


def test_user_statistics_and_scaling():
    # history amounts are 100..129: median 114.5, p99 ≈ 128.7
    events = [ev(0, "transfer", item_id="mum", amount=3000.0), ev(1, "transfer", item_id="mum", amount=129.0)]
    assert matches("amount > 20 * user.median", events) == [(0,)]
    assert matches("amount > 30 * user.median", events) == []
    assert matches("event(transfer AND amount > user.p99) THEN transfer", events) == [(0, 1)]


def test_missing_statistics_meet_no_comparison():
    history = [{"user_id": "ann", "ts": d * D, "action": "login", "device": "phone"} for d in range(20)]
    events = [ev(0, "transfer", item_id="x", amount=1e9)]
    assert matches("amount > user.p99", events, history=history) == []
    assert matches("NOT amount > user.p99", events, history=history) == [()]


def test_or_and_groups():
    events = [ev(0, "login", device="pc"), ev(1, "transfer", item_id="mum", amount=100.0)]
    assert matches("(new_location OR new_device) AND transfer", events) == [(0, 1)]
    assert matches("new_location AND transfer OR logout", events) == []
    assert matches("new_location AND transfer OR login", events) == [(0,)]


def test_hour_ranges_wrap_and_text_comparisons():
    late = [{"user_id": "ann", "ts": 50 * D + 23 * H, "action": "login", "device": "pc", "location": "Lagos"}]
    assert matches("hour in 22-3", late) == [(0,)]
    assert matches("hour in 0-5", late) == []
    assert matches('device == "pc" AND location in ["Paris", "Lagos"]', late) == [(0,)]
    assert matches('device != "pc"', late) == []
    assert matches("gap > 1d AND weekday in 0-6", late) == []  # gap is unknown for the first event


def test_one_match_per_session_and_each_session_separately():
    first = [ev(0, "delete_record"), ev(1, "delete_record")]
    second = [ev(300, "delete_record")]  # 5 hours later: another session
    assert matches("delete_record", first + second) == [(0,), (2,)]


def test_new_user_predicate_and_history_gating():
    events = [{"user_id": "bob", "ts": DAY, "action": "login", "device": "pc"}]
    assert matches("new_user", events) == [(0,)]
    assert matches("new_device", events) == []  # nothing is "new" for a user without history
