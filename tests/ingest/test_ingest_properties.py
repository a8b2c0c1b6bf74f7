"""Property tests: input row order does not matter; every read event is kept or counted as dropped."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.ingest_helpers import Run, config, source

ACTIONS = ["view", "click", "cart", "buy", "pv", "fav"]
SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def logs(draw: st.DrawFn) -> list[tuple[str, int, str, str, str]]:
    """Rows (user, ts, action, item, dwell) with distinct timestamps per user."""
    text_ids = draw(st.booleans())
    n_users = draw(st.integers(1, 6))
    rows = []
    for u in range(n_users):
        uid = f"u{u * 7 % 11}" if text_ids else str(u * 13 % 17)
        times = draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=8, unique=True))
        for t in times:
            action = draw(st.sampled_from(ACTIONS))
            item = f"i{draw(st.integers(0, 5))}"
            dwell = draw(st.sampled_from(["", "0.5", "3", "12.5"]))
            rows.append((uid, t, action, item, dwell))
    return rows


def _csv(rows: list[tuple]) -> str:
    return "user,ts,action,item,dwell\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)


def _files(ds) -> dict[str, bytes]:
    out = {}
    for folder in ("sequences", "vocab"):
        for path in sorted((ds.path / folder).iterdir()):
            out[f"{folder}/{path.name}"] = path.read_bytes()
    return out


@SETTINGS
@given(rows=logs(), seed=st.integers(0, 2**16), kcore=st.booleans())
def test_shuffling_rows_leaves_arrays_and_vocabularies_unchanged(tmp_path, rows, seed, kcore):
    run = Run(tmp_path)
    cleaning = {"min_dwell_s": 1.0, "dedup_within_s": 0}
    if kcore:
        cleaning["kcore"] = {"users": 2, "items": 2}
    cfg = config(source(dwell_s="dwell"), cleaning=cleaning)
    run.write("log.csv", _csv(rows))
    try:
        first = run(cfg)
    except Exception as exc:  # k-core may leave nothing; then the shuffled input must fail the same way
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        run.write("log.csv", _csv(shuffled))
        try:
            run(cfg)
        except type(exc) as again:
            assert str(again).split(":")[-1] == str(exc).split(":")[-1]
            return
        raise AssertionError("the shuffled input did not fail like the original") from exc
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    run.write("log.csv", _csv(shuffled))
    second = run(cfg)
    assert _files(first) == _files(second)
    assert first.stats["dropped"] == second.stats["dropped"]


@st.composite
def dirty_logs(draw: st.DrawFn) -> str:
    lines = ["user,ts,action,item,dwell"]
    for _ in range(draw(st.integers(1, 40))):
        user = draw(st.sampled_from(["1", "2", "3", "", "NA"]))
        ts = draw(st.sampled_from(["10", "20", "20", "30", "", "soon", "99999999999999"]))
        action = draw(st.sampled_from([*ACTIONS, "teleport", ""]))
        item = draw(st.sampled_from(["a", "b", "c", ""]))
        dwell = draw(st.sampled_from(["", "0.2", "5"]))
        shape = draw(st.sampled_from(["ok", "ok", "ok", "short", "long"]))
        fields = [user, ts, action, item, dwell]
        if shape == "short":
            fields = fields[:3]
        elif shape == "long":
            fields = [*fields, "extra"]
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


@SETTINGS
@given(text=dirty_logs(), window=st.booleans(), missing_item=st.sampled_from(["keep", "drop"]))
def test_kept_plus_dropped_equals_read(tmp_path, text, window, missing_item):
    run = Run(tmp_path)
    cleaning = {
        "min_dwell_s": 1.0,
        "dedup_within_s": 5,
        "missing_item": missing_item,
        "kcore": {"users": 2, "items": 1},
    }
    if window:
        cleaning["time_window"] = {"start": 15}
    cfg = config(source(dwell_s="dwell", action={"column": "action", "unknown": "drop"}), cleaning=cleaning)
    run.write("log.csv", text)
    n_rows = text.count("\n") - 1
    try:
        ds = run(cfg, on_error="skip")
    except Exception as exc:
        assert "no event is left" in str(exc)
        return
    s = ds.stats
    assert s["events_read"] == n_rows
    assert s["events_read"] == s["events_kept"] + sum(s["dropped"].values())
    assert s["events_kept"] == ds.n_events
