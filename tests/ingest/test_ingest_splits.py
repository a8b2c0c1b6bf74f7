"""Splits, sessions and determinism."""

from __future__ import annotations

import numpy as np

from seqintent.ingest._derive import user_bucket
from tests.ingest.ingest_helpers import Run, arrays, config, source, users

LOG = "user,ts,action,item,sess\n" + "".join(
    f"{u},{t},view,i{(u * 7 + t) % 5},{u}-{t // 100}\n" for u in range(1, 7) for t in range(0, 50 * u, 50)
)


def test_leave_one_out_keeps_short_users_in_train(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", LOG)
    ds = run(config())
    a = arrays(ds)
    lengths = np.diff(a["offsets"]).tolist()
    assert lengths == [1, 2, 3, 4, 5, 6]
    by_user = np.split(np.array(a["split"]), a["offsets"][1:-1])
    assert [s.tolist() for s in by_user[:4]] == [[0], [0, 0], [0, 1, 2], [0, 0, 1, 2]]


def test_temporal_split(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", LOG)
    ds = run(config(split={"kind": "temporal", "valid_start": 100, "test_start": 200}))
    a = arrays(ds)
    expected = [0 if t < 100_000 else 1 if t < 200_000 else 2 for t in a["ts"]]
    assert a["split"] == expected and set(expected) == {0, 1, 2}


def test_by_user_split_is_seeded_by_user_id(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", LOG)
    ds = run(config(split={"kind": "by_user", "fractions": [0.5, 0.25, 0.25], "seed": 3}))
    ids = ds.vocab("users").values
    bucket = user_bucket(ids, 3)
    expected_user = np.where(bucket < 0.5, 0, np.where(bucket < 0.75, 1, 2))
    assert arrays(ds)["split"] == np.repeat(expected_user, np.diff(arrays(ds)["offsets"])).tolist()
    # each user's events are in one split
    for part in np.split(np.array(arrays(ds)["split"]), arrays(ds)["offsets"][1:-1]):
        assert len(set(part.tolist())) == 1


def test_user_bucket_is_fixed_and_roughly_uniform():
    assert user_bucket(["1", "2"], 0).tolist() == user_bucket(["1", "2"], 0).tolist()
    assert user_bucket(["1"], 0)[0] != user_bucket(["1"], 1)[0]
    buckets = user_bucket([str(i) for i in range(2000)], 0)
    assert 0.45 < (buckets < 0.5).mean() < 0.55


def test_sessions_from_the_log_or_from_gaps(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", LOG)
    by_id = run(config(source(session_id="sess")))
    a = arrays(by_id)
    user6 = slice(a["offsets"][5], a["offsets"][6])
    assert a["session"][user6] == [0, 0, 1, 1, 2, 2]  # ids 6-0, 6-0, 6-1, 6-1, 6-2, 6-2
    by_gap = run(config(sessions={"gap_s": 60}))
    assert arrays(by_gap)["session"][user6] == [0, 0, 0, 0, 0, 0]
    by_short_gap = run(config(sessions={"gap_s": 49}))
    assert arrays(by_short_gap)["session"][user6] == [0, 1, 2, 3, 4, 5]
    assert by_short_gap.stats["sessions"] == 21


def test_same_input_gives_byte_identical_arrays(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", LOG)
    first, second = run(config()), run(config())
    for name in ["offsets", *first.fields]:
        path = f"sequences/{'offsets' if name == 'offsets' else name}.npy"
        assert (first.path / path).read_bytes() == (second.path / path).read_bytes()
    for vocab in ("users", "items", "actions", "categories", "devices"):
        assert first.vocab(vocab).values == second.vocab(vocab).values
    assert users(first) == users(second)
