"""The simulator's bank log as a labelled anomaly task: profiles fit on its warm-up weeks, then replay.

The finance scenario plants account takeovers, harmless lookalikes and normal days in sessions
whose labels it writes beside the log; :func:`simulated_bank_log` ingests the log with the
``simulator`` preset and returns those labels, and :func:`replay_after_warmup` fits a detector
on the warm-up weeks (no planted session there) and replays the rest. The demo, the tests and
``bench/anomaly.py`` measure the detector this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from seqintent.anomaly.detector import AnomalyDetector
from seqintent.anomaly.risk import RiskResult
from seqintent.anomaly.rules import RuleSet, example_rules_path
from seqintent.ingest import ingest
from seqintent.schema import load_preset
from seqintent.schema.columns import Columns
from seqintent.simulate import load_truth, simulate

DAY_MS = 86_400_000


@dataclass(frozen=True)
class SimulatedBankLog:
    """Ingested events of a simulated bank log with the planted label of every session."""

    events: pa.Table
    session_labels: dict[int, str]  # session id -> takeover / lookalike / normal …
    warmup_days: int

    @property
    def warmup_end_ms(self) -> int:
        """Epoch ms where the warm-up weeks end: profiles learn before it, sessions are replayed after."""
        return int(pc.min(self.events[Columns.TIME]).as_py()) + self.warmup_days * DAY_MS

    def label_of(self, result: RiskResult) -> str:
        """The planted label of a replayed session (its unit ends with ``/<session id>``)."""
        return self.session_labels[int(result.unit.rsplit("/", 1)[1])]


def simulated_bank_log(folder: str | Path, *, users: int, seed: int) -> SimulatedBankLog:
    """Simulate the finance scenario into ``folder`` (``events.csv``, ``dataset/``) and ingest it."""
    folder = Path(folder)
    log = folder / "events.csv"
    simulate("finance", n_users=users, seed=seed, out=log)
    config = load_preset("simulator").to_dict()
    # bank events have no category: leave the (all-empty) column out of the mapping
    config["sources"][0].pop("category", None)
    events = ingest(log, config, folder / "dataset", overwrite=True).events()
    truth = load_truth(log)
    labels = dict(
        zip(truth.sessions["session_id"].to_pylist(), truth.sessions["label"].to_pylist(), strict=True)
    )
    return SimulatedBankLog(events, labels, int(truth.meta["params"]["warmup_days"]))


def replay_after_warmup(log: SimulatedBankLog, rules: RuleSet | None = None) -> list[RiskResult]:
    """Fit on the warm-up weeks, replay every later session (rules: the shipped finance example)."""
    rules = rules if rules is not None else RuleSet.from_yaml(example_rules_path("finance").read_text())
    time, cut = log.events[Columns.TIME], log.warmup_end_ms
    detector = AnomalyDetector(rules=rules).fit(log.events.filter(pc.less(time, cut)))
    return detector.replay(log.events.filter(pc.greater_equal(time, cut)))
