import math

import numpy as np
import pytest

from seqintent.anomaly import ProfileConfig, ProfileStore
from seqintent.errors import ArtifactError
from tests.anomaly.anomaly_fixtures import D, H, M, habitual_history


def test_robust_amount_statistics_are_exact():
    amounts = [10.0, 12.0, 11.0, 13.0, 1000.0]
    events = [
        {"user_id": "u", "ts": i * H, "action": "transfer", "item_id": "p", "amount": a}
        for i, a in enumerate(amounts)
    ]
    stats = ProfileStore().update(events)["u"].amount_stats()
    assert stats.n == 5
    assert stats.median == 12.0
    assert stats.mad == 1.0  # |x - 12| = 2, 0, 1, 1, 988 → median 1
    assert stats.p90 == pytest.approx(np.quantile(amounts, 0.9))
    assert stats.p99 == pytest.approx(np.quantile(amounts, 0.99))
    assert stats.max == 1000.0


def test_only_amount_actions_count_and_the_window_keeps_the_latest():
    cfg = ProfileConfig(amount_window=3)
    events = [{"user_id": "u", "ts": i, "action": "transfer", "amount": float(i)} for i in range(6)]
    events.append({"user_id": "u", "ts": 99, "action": "deposit", "amount": 1e6})  # not an amount action
    profile = ProfileStore(cfg).update(events)["u"]
    assert list(profile.amounts) == [3.0, 4.0, 5.0]
    assert profile.n_amounts == 6
    assert profile.amount_stats().median == 4.0


def test_no_amounts_gives_nan_statistics():
    stats = ProfileStore().update([{"user_id": "u", "ts": 0, "action": "login"}])["u"].amount_stats()
    assert stats.n == 0 and math.isnan(stats.median) and math.isnan(stats.p99)


def test_hours_are_circular():
    # half the events at 23:30, half at 00:30: the mean is midnight, not noon
    events = [{"user_id": "u", "ts": d * D + 23 * H + 30 * M, "action": "login"} for d in range(5)]
    events += [{"user_id": "u", "ts": d * D + 30 * M, "action": "login"} for d in range(1, 6)]
    profile = ProfileStore().update(events)["u"]
    assert profile.hour_counts[23] == 5 and profile.hour_counts[0] == 5
    assert min(profile.mean_hour(), 24 - profile.mean_hour()) == pytest.approx(0.0, abs=1e-9)
    assert profile.usual_hours() == (23, 2)  # 23:00–01:00 wraps midnight
    probs = profile.hour_probabilities(1.0)
    assert probs.sum() == pytest.approx(1.0)
    assert probs[1] == pytest.approx(probs[22])  # symmetric around midnight
    assert probs[12] < 1e-6


def test_hours_use_the_configured_time_zone():
    # 01:00 UTC is 09:00 in Shanghai
    events = [{"user_id": "u", "ts": d * D + 1 * H, "action": "login"} for d in range(3)]
    profile = ProfileStore(ProfileConfig(timezone="Asia/Shanghai")).update(events)["u"]
    assert profile.usual_hours() == (9, 1)


def test_devices_payees_locations_counts_and_last_seen():
    profile = ProfileStore().update(habitual_history(days=4))["ann"]
    assert profile.n_events == 8
    assert {k: (v.count, v.last_ts) for k, v in profile.payees.items()} == {
        "mum": (2, 2 * D + 9 * H + M),
        "rent": (2, 3 * D + 9 * H + M),
    }
    assert profile.devices["phone"].count == 8
    assert list(profile.locations) == ["Berlin"]
    assert profile.first_ts == 9 * H and profile.last_ts == 3 * D + 9 * H + M


def test_least_recently_used_values_are_forgotten_first():
    cfg = ProfileConfig(max_values=2)
    events = [{"user_id": "u", "ts": t, "action": "login", "device": d} for t, d in enumerate("aabcb")]
    profile = ProfileStore(cfg).update(events)["u"]
    # a (last seen at 1) goes when c arrives; then b and c remain
    assert sorted(profile.devices) == ["b", "c"]
    assert profile.devices["b"].count == 2


@pytest.mark.parametrize("cut", [1, 17, 33, 59])
def test_incremental_update_equals_one_batch(cut):
    cfg = ProfileConfig(max_values=1, amount_window=7)
    events = habitual_history(days=30)
    once = ProfileStore(cfg).update(events)
    twice = ProfileStore(cfg).update(events[:cut]).update(events[cut:])
    assert once.to_table().equals(twice.to_table())


def test_update_does_not_mutate_the_input():
    events = habitual_history(days=3)
    copy = [dict(e) for e in events]
    ProfileStore().update(events)
    assert events == copy


def test_save_load_round_trip(tmp_path):
    store = ProfileStore(ProfileConfig(timezone="Europe/Berlin", amount_window=20)).update(habitual_history())
    store.save(tmp_path / "profiles")
    loaded = ProfileStore.load(tmp_path / "profiles")
    assert loaded.config == store.config
    assert loaded.to_table().equals(store.to_table())
    assert loaded["ann"].amount_stats() == store["ann"].amount_stats()
    assert loaded["ann"].amounts.maxlen == 20
    assert not list(tmp_path.glob("**/*.pkl"))


def test_load_refuses_another_folder_kind(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "manifest.json").write_text('{"kind": "seqintent.dataset", "format_version": 1}')
    with pytest.raises(
        ArtifactError, match=r"expected kind 'seqintent\.profiles', found 'seqintent\.dataset'"
    ):
        ProfileStore.load(tmp_path / "x")


def test_save_refuses_a_file_path(tmp_path):
    target = tmp_path / "file.json"
    target.write_text("{}")
    with pytest.raises(ArtifactError, match="output path is a file"):
        ProfileStore().update(habitual_history(days=1)).save(target)
