import numpy as np
import torch

from seqintent.models import EventTokens, InputSpec, gather_tokens, history_rows, log_bucket
from seqintent.models.network import torch_log_bucket
from tests.dataset_builders import build_dataset


def test_log_bucket_edges_and_unknown():
    got = log_bucket(np.array([np.nan, -1.0, 0.0, 0.99, 1.0, 1.99, 2.0, 1e12]), 32)
    assert got.tolist() == [0, 0, 1, 1, 2, 2, 3, 31]
    seconds = np.array([0.0, 0.5, 1.0, 3.0, 4.0, 3600.0, 1e12])
    assert torch_log_bucket(torch.tensor(seconds), 32).tolist() == log_bucket(seconds, 32).tolist()


def test_hour_and_weekday_follow_the_log_time_zone(tmp_path):
    # 2017-11-24 17:21:10 UTC is Saturday 2017-11-25 01:21 in Shanghai
    ts = [1511544070000, 1511544070000 + 3600_000]
    ds = build_dataset(tmp_path / "d", user=["u", "u"], item=["a", "b"], ts_ms=ts, timezone="Asia/Shanghai")
    tokens = EventTokens.from_dataset(ds)
    assert tokens.hour.tolist() == [2, 3]  # hour + 1
    assert tokens.weekday.tolist() == [6, 6]  # Saturday (Monday = 1)
    assert tokens.gap.tolist() == [0, log_bucket(np.array([3600.0]), 32)[0]]


def test_dataset_without_time_has_no_time_codes(tmp_path):
    ds = build_dataset(tmp_path / "d", user=["u"] * 3, item=["a", "b", "a"])
    spec = InputSpec.from_dataset(ds)
    tokens = EventTokens.from_dataset(ds, spec)
    assert not spec.has_time and not spec.has_dwell
    assert tokens.gap.tolist() == tokens.hour.tolist() == tokens.weekday.tolist() == [0, 0, 0]
    assert tokens.item.tolist() == [1, 2, 1]


def test_history_rows_left_pad_and_truncate():
    rows = history_rows(np.array([0, 3, 5]), np.array([2, 9, 5]), 4)
    assert rows.tolist() == [[-1, -1, 0, 1], [5, 6, 7, 8], [-1, -1, -1, -1]]


def test_importance_truncation_keeps_recent_events_and_older_important_ones():
    important = np.zeros(20, dtype=bool)
    important[[2, 4]] = True
    # history 0..11, 6 columns, 2 slots for older important events: 4 recent (8..11) + 2, 4
    rows = history_rows(np.array([0]), np.array([12]), 6, important=important, slots=2)
    assert rows.tolist() == [[2, 4, 8, 9, 10, 11]]
    # only one important older event: the other slot takes the newest remaining older event
    rows = history_rows(np.array([3]), np.array([12]), 6, important=important, slots=2)
    assert rows.tolist() == [[4, 7, 8, 9, 10, 11]]
    # short histories are untouched
    assert history_rows(np.array([0]), np.array([3]), 6, important=important, slots=2).tolist() == [
        [-1, -1, -1, 0, 1, 2]
    ]


def test_gather_tokens_time_to_next_and_relative_time(tmp_path):
    ts = [0, 10_000, 70_000]
    ds = build_dataset(tmp_path / "d", user=["u"] * 3, item=["a", "b", "c"], ts_ms=ts)
    tokens = EventTokens.from_dataset(ds)
    out = gather_tokens(tokens, np.array([[-1, 0, 1]]), np.array([3600.0]))
    assert out["item"].tolist() == [[0, 1, 2]]
    # next gaps: 10 s → bucket 5, then 3600 - 10 s → bucket 13; padding 0
    assert out["next_gap"].tolist() == [[0, 5, 13]]
    assert out["time_s"].tolist() == [[0.0, -10.0, 0.0]]
    assert out["action"].tolist() == [[0, 1, 1]]
