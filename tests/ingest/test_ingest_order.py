"""The two ways of ordering events (packed numpy keys, DuckDB sort) agree, on every kind of id."""

from __future__ import annotations

import numpy as np
import pytest

from seqintent.ingest import _order
from seqintent.ingest._clean import grouped_order
from tests.ingest.ingest_helpers import Run, config, source

ROWS = [("u10", 5), ("u2", 5), ("7", 1), ("u10", 1), ("u2", 5), ("u10", 5), ("7", 9), ("007", 3)]


@pytest.mark.parametrize("ids", ["text", "integer", "sparse-integer", "mixed"])
@pytest.mark.parametrize("timed", [True, False])
def test_packed_and_duckdb_orders_give_the_same_dataset(tmp_path, monkeypatch, ids, timed):
    run = Run(tmp_path)

    def uid(u: str) -> str:
        if ids == "text":
            return u
        if ids == "mixed":  # integers and text: text order, so "10" < "7" < "u2"
            return {"u10": "10", "u2": "u2", "7": "7", "007": "x"}[u]
        number = int(u.lstrip("u"))
        return str(number * 10**12 if ids == "sparse-integer" else number)

    lines = "".join(f"{uid(u)},{t}500,view,i{k % 3}\n" for k, (u, t) in enumerate(ROWS))
    run.write("log.csv", "user,ts,action,item\n" + lines)
    cfg = config(source(time={"column": "ts", "unit": "ms"} if timed else None))
    packed = run(cfg)
    monkeypatch.setattr(_order, "_packed_order", lambda rank, ts: None)
    sorted_by_duckdb = run(cfg)
    for name in ["offsets", *packed.fields]:
        a = np.load(packed.path / "sequences" / f"{name}.npy")
        b = np.load(sorted_by_duckdb.path / "sequences" / f"{name}.npy")
        assert a.tobytes() == b.tobytes(), name
    expected = {
        "text": ["007", "7", "u10", "u2"],  # not all integers: text order
        "integer": ["2", "7", "10"],  # numeric order ("007" is the integer 7 here)
        "sparse-integer": ["2000000000000", "7000000000000", "10000000000000"],
        "mixed": ["10", "7", "u2", "x"],
    }[ids]
    assert packed.vocab("users").values == sorted_by_duckdb.vocab("users").values == expected


def test_grouped_order_matches_lexsort_and_falls_back():
    rng = np.random.default_rng(0)
    keys = [rng.integers(0, 4, 200), rng.integers(0, 3, 200)]
    order, same = grouped_order(keys)
    expected = np.lexsort((np.arange(200), keys[1], keys[0]))
    assert order.tolist() == expected.tolist()
    wide = [rng.integers(0, 2**40, 50), rng.integers(0, 2**30, 50)]
    order, same = grouped_order(wide)
    assert order.tolist() == np.lexsort((np.arange(50), wide[1], wide[0])).tolist()
    assert not same.any()


@pytest.mark.parametrize("layout", ["time-ordered per user", "shuffled", "seconds", "too wide"])
def test_packed_order_is_the_stable_lexicographic_order(layout):
    rng = np.random.default_rng(1)
    n = 5000
    rank = rng.integers(0, 300, n)
    ts = rng.integers(0, 50, n) * 1000 if layout == "seconds" else rng.integers(0, 10**9, n)
    if layout == "time-ordered per user":
        ts = np.sort(ts)  # a time-ordered log: every user's events come in time order
    if layout == "too wide":
        rank = rank * 2**40  # user rank and time do not pack with the position: DuckDB must sort
    expected = np.lexsort((np.arange(n), ts, rank))
    got = _order._packed_order(rank, ts)
    if layout == "too wide":
        assert got is None
    else:
        assert got.tolist() == expected.tolist()
