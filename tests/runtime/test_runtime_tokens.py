"""Online events become exactly the token codes training builds from the Dataset."""

from __future__ import annotations

import numpy as np
import pytest

from seqintent.models import EventTokens, NextItemModel, gather_tokens, log_bucket, model_rows
from seqintent.runtime import HistoryEncoder, Runtime, pad_batch
from seqintent.runtime import log_bucket as runtime_log_bucket
from seqintent.schema.columns import Vocabularies


def by_user(events):
    out: dict[str, list] = {}
    for e in events:
        out.setdefault(e["user_id"], []).append(e)
    return out


def test_log_bucket_is_the_training_one():
    s = np.array([np.nan, -1, 0, 0.5, 0.999, 1, 1.5, 2, 3.99, 4, 1e3, 1e9, np.inf])
    for n in (16, 32):
        assert runtime_log_bucket(s, n).tolist() == log_bucket(s, n).tolist()


def test_codes_equal_the_training_codes_for_every_prefix(exported):
    model = NextItemModel.from_pretrained(exported.model)
    runtime = Runtime.load(exported.runtime)
    encoder = HistoryEncoder(runtime.config, runtime.vocabs)
    tokens = EventTokens.from_dataset(exported.dataset, model.spec)
    users = exported.dataset.vocab(Vocabularies.USERS)
    histories = by_user(exported.events)
    checked = 0
    for user_id, events in list(histories.items())[:25]:
        u = users.index_of(user_id)
        start = tokens.offsets[u]
        assert tokens.offsets[u + 1] - start == len(events)
        for end in (1, 2, 5, 13, 17, len(events) - 1, len(events)):
            query_ms = events[end]["ts"] if end < len(events) else events[-1]["ts"] + 3_600_000
            rows = model_rows(tokens, np.array([start]), np.array([start + end]), model.config.model)
            want = gather_tokens(tokens, rows, np.array([query_ms / 1000.0]))
            got = encoder.encode(events[:end], at_ms=query_ms)
            width = got.length
            assert (rows[0] >= 0).sum() == width
            for name, codes in got.codes.items():
                expected = want[name].numpy()[0, -width:]
                assert codes.dtype == expected.dtype, name
                np.testing.assert_array_equal(codes, expected, err_msg=f"{name}, user {user_id}, end {end}")
            kept = rows[0][rows[0] >= 0] - start
            assert [e["event_id"] for e in got.events] == [events[i]["event_id"] for i in kept]
            checked += 1
    assert checked == 25 * 7


def test_unknown_actions_are_left_out_and_counted(exported_plain):
    runtime = Runtime.load(exported_plain.runtime)
    encoder = HistoryEncoder(runtime.config, runtime.vocabs)
    events = by_user(exported_plain.events)["u0"][:6]
    alien = [dict(e, action="login", event_id=f"x{i}") for i, e in enumerate(events[:2])]
    mixed = [alien[0], *events[:3], alien[1], *events[3:]]
    plain = encoder.encode(events, at_ms=events[-1]["ts"] + 1000)
    got = encoder.encode(mixed, at_ms=events[-1]["ts"] + 1000)
    assert got.n_ignored == 2 and plain.n_ignored == 0
    assert got.n_readable == plain.n_readable == 6
    for name in got.codes:
        np.testing.assert_array_equal(got.codes[name], plain.codes[name])


def test_unknown_items_and_categories_read_as_zero(exported_plain):
    runtime = Runtime.load(exported_plain.runtime)
    encoder = HistoryEncoder(runtime.config, runtime.vocabs)
    e = {"event_id": "1", "user_id": "x", "ts": 1_711_900_000_000, "action": "view", "item_id": "new-item"}
    got = encoder.encode([e, dict(e, category="new-cat", ts=e["ts"] + 5000)], at_ms=None)
    assert got.codes["item"].tolist() == [0, 0]
    assert got.codes["category"].tolist() == [0, 0]
    assert got.n_known_items == 0 and got.n_readable == 2
    assert got.codes["next_gap"].tolist() == [
        log_bucket(np.array([5.0]), 32)[0],
        0,
    ]  # unknown: no request time


def test_pad_batch_left_pads_with_zeros(exported_plain):
    runtime = Runtime.load(exported_plain.runtime)
    encoder = HistoryEncoder(runtime.config, runtime.vocabs)
    events = by_user(exported_plain.events)["u1"]
    short, long = encoder.encode(events[:3]), encoder.encode(events[:9])
    batch = pad_batch([short, long], ["item", "time_s"])
    assert batch["item"].shape == (2, long.length)
    assert batch["item"][0, : long.length - 3].tolist() == [0] * (long.length - 3)
    assert batch["item"][0, -3:].tolist() == short.codes["item"].tolist()
    assert batch["time_s"].dtype == np.float32


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_histories(exported_plain, n):
    runtime = Runtime.load(exported_plain.runtime)
    encoder = HistoryEncoder(runtime.config, runtime.vocabs)
    got = encoder.encode(by_user(exported_plain.events)["u2"][:n])
    assert got.length == n
    assert all(len(v) == n for v in got.codes.values())
