"""End to end: simulate → ingest with the `simulator` preset → Dataset, checked against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from seqintent.schema.columns import Columns, SequenceFields, Vocabularies
from seqintent.simulate import SCENARIOS, load_truth, simulate

ingest_stage = pytest.importorskip("seqintent.ingest")
if not hasattr(ingest_stage, "ingest"):  # pragma: no cover - before the ingest stage lands
    pytest.skip("the ingest stage is not available", allow_module_level=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ingest_counts_every_planted_noise_event_and_keeps_the_rest(tmp_path, scenario):
    result = simulate(scenario, n_users=60, seed=5, out=tmp_path / "log.csv")
    ds = ingest_stage.ingest(result.log_path, "simulator", tmp_path / "ds")
    counts, stats = result.counts, ds.stats
    assert stats["events_read"] == counts["events"]
    assert stats["events_kept"] == counts["clean_events"]
    dropped = {reason: n for reason, n in stats["dropped"].items() if n}
    expected = {"misclick": counts["misclicks"], "duplicate": counts["duplicates"]}
    assert dropped == {reason: n for reason, n in expected.items() if n}
    assert ds.n_users == counts["users"]

    # the truth's event ids are ingest's input order, and every cause survives cleaning
    truth = load_truth(result.log_path)
    events = ds.events().to_pandas().set_index(Columns.INPUT_ORDER)
    signals = truth.signals.to_pandas()
    kept = events.loc[signals["event_id"]]
    assert (kept[Columns.USER].astype(np.int64).to_numpy() == signals["user_id"].to_numpy()).all()
    sessions = truth.sessions.to_pandas()
    first = events.loc[sessions["first_event_id"]]
    assert (first[Columns.TIME].to_numpy() == sessions["start_ts"].to_numpy()).all()

    # sessions from the 30-minute inactivity rule are the simulator's sessions
    per_user = events.groupby(Columns.USER)[Columns.SESSION_INDEX].max() + 1
    truth_per_user = sessions.groupby("user_id").size()
    assert (per_user.to_numpy() == truth_per_user.loc[per_user.index.astype(np.int64)].to_numpy()).all()


def test_ingest_reads_the_same_events_from_every_format(tmp_path):
    arrays = {}
    for fmt in ("csv", "jsonl", "parquet"):
        result = simulate("ecommerce", n_users=40, seed=8, out=tmp_path / f"log.{fmt}")
        ds = ingest_stage.ingest(result.log_path, "simulator", tmp_path / f"ds_{fmt}")
        seq = ds.sequences
        items = np.asarray(ds.vocab(Vocabularies.ITEMS).values, dtype=object)[seq[SequenceFields.ITEM]]
        arrays[fmt] = (seq[SequenceFields.TIME], items, seq[SequenceFields.DWELL])
    for fmt in ("jsonl", "parquet"):
        for expected, got in zip(arrays["csv"], arrays[fmt], strict=True):
            np.testing.assert_array_equal(got, expected)  # NaN (no dwell) compares equal here
