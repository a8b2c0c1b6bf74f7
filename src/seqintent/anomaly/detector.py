"""The anomaly detector: fit habit profiles, score sessions, save and load as a folder.

>>> events = [{"user_id": "ann", "ts": (d * 24 + 9) * 3600_000, "action": "transfer",
...            "item_id": "mum", "amount": 100.0, "device": "phone"} for d in range(30)]
>>> detector = AnomalyDetector().fit(events)
>>> night = [{"user_id": "ann", "ts": (40 * 24 + 2) * 3600_000, "action": "transfer",
...           "item_id": "stranger", "amount": 4000.0, "device": "laptop"}]
>>> result = detector.score(night)[0]
>>> result.score, result.level, result.action
(82.9, 'high', 'hold_for_review')
>>> for reason in result.reasons:
...     print(reason.text)
amount 4,000.00 is 40× the user's median (100.00)
new device "laptop" (usual: "phone")
payee never seen: "stranger"
active at 02:00, usually 09:00–10:00
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.anomaly._events import EventFrame, EventsLike, as_table
from seqintent.anomaly._rule_eval import EventContext, evaluate_rules
from seqintent.anomaly.config import AnomalyConfig
from seqintent.anomaly.features import compute_deviations
from seqintent.anomaly.profile import ProfileStore
from seqintent.anomaly.risk import RiskResult, combine
from seqintent.anomaly.rules import RuleSet
from seqintent.anomaly.surprise import SequenceSurprise, surprise_text
from seqintent.data.artifact import ArtifactWriter, read_json, read_manifest, write_json
from seqintent.data.dataset import Dataset
from seqintent.errors import ArtifactError, NotFittedError
from seqintent.schema.columns import AnomalyFiles, Columns, Splits


class AnomalyDetector:
    """Per-user habit profiles plus pattern rules, combined into a risk score with reasons.

    Parameters
    ----------
    config:
        Profile, risk and unit settings; defaults to :class:`AnomalyConfig` defaults.
    rules:
        Pattern rules (:func:`~seqintent.anomaly.rules.load_rules`); none by default.
    surprise:
        Sequence surprise under a trained next-item model (:class:`SequenceSurprise`); off by default.
    """

    def __init__(
        self,
        config: AnomalyConfig | None = None,
        rules: RuleSet | None = None,
        surprise: SequenceSurprise | None = None,
    ) -> None:
        self.config = config or AnomalyConfig()
        self.rules = rules or RuleSet.empty()
        self.surprise = surprise

    # --- learning ------------------------------------------------------------------------------

    def fit(
        self,
        data: Dataset | EventsLike,
        *,
        split: str | None = "train",
        calibration: EventsLike | None = None,
        quantile: float = 0.99,
    ) -> AnomalyDetector:
        """Build the profiles from a Dataset's ``split`` events (all events for other inputs).

        A Dataset's time zone replaces ``config.profile.timezone``. With a sequence ``surprise``,
        its thresholds are learned from ``calibration`` events taken as normal (default: the
        profiled events; held-out normal events give a less optimistic threshold). Returns ``self``.
        """
        events = data
        if isinstance(data, Dataset):
            events = _dataset_events(data, split)
            profile = self.config.profile.model_copy(update={"timezone": data.timezone})
            self.config = self.config.model_copy(update={"profile": profile})
        self.profiles_ = ProfileStore(self.config.profile).update(events)
        self.fitted_events_ = int(sum(p.n_events for p in self.profiles_.profiles.values()))
        self.calibration_ = None
        if self.surprise is not None:
            frame = self.frame(calibration if calibration is not None else events)
            self.calibration_ = self.surprise.calibrate(frame, quantile=quantile)
        return self

    def update(self, events: EventsLike) -> AnomalyDetector:
        """Fold new events into the profiles (after scoring them, in a stream). Returns ``self``."""
        self._check_fitted()
        self.profiles_.update(events)
        return self

    # --- scoring ---------------------------------------------------------------------------------

    def frame(self, events: EventsLike | EventFrame) -> EventFrame:
        self._check_fitted()
        return self.profiles_.frame(events, unit=self.config.unit)

    def score(self, events: EventsLike | EventFrame) -> list[RiskResult]:
        """Risk of every session (or user, with ``config.unit = "user"``) of ``events``.

        Events are compared with the profiles as fitted; scoring does not change them (call
        :meth:`update` for that). Results come in order of user, then time.

        Returns
        -------
        list of RiskResult
            ``score`` 0–100 (higher is riskier), ``level``, ``action`` and ``reasons`` (strongest first).
        """
        frame = self.frame(events)
        cfg = self.config
        dev = compute_deviations(frame, self.profiles_, cfg.risk)
        ctx = EventContext(
            frame, dev, payee_actions=cfg.profile.payee_actions, min_history=cfg.profile.min_history
        )
        matches = evaluate_rules(self.rules.enabled, ctx)
        return combine(frame, dev, self.profiles_, cfg.risk, matches, extra=self._surprise_signal(frame))

    def _surprise_signal(self, frame: EventFrame) -> dict[str, tuple[np.ndarray, Any]]:
        if self.surprise is None or self.calibration_ is None:
            return {}
        found = self.surprise.events(frame)
        strength = self.config.risk.weights.surprise * self.calibration_.strength(found.nll)
        top_g = self.calibration_.top_g

        def phrase(position: int) -> str:
            return surprise_text(
                frame, position, float(found.nll[position]), int(found.rank[position]), top_g
            )

        return {"surprise": (strength, phrase)}

    def replay(self, events: EventsLike, *, period_ms: int = 86_400_000) -> list[RiskResult]:
        """Score events period by period, learning each period after scoring it (prequential).

        What a service that scores sessions as they come and refreshes the profiles every
        ``period_ms`` (default: nightly) would have said: each session is compared with the
        profiles of every event before its period. A session belongs to the period of its first
        event. Results come period by period; their rows point at ``events``. The profiles end up
        updated with all of ``events``.
        """
        table = as_table(events)
        frame = self.frame(table)
        if len(frame) == 0:
            return []
        keys, unit_index = np.unique(frame.unit.astype(str), return_inverse=True)
        first = np.full(len(keys), np.iinfo(np.int64).max)
        np.minimum.at(first, unit_index, frame.ts)
        period = np.empty(len(frame), dtype=np.int64)
        period[frame.row] = (first[unit_index] - frame.ts.min()) // period_ms
        session = np.empty(len(frame), dtype=object)
        session[frame.row] = frame.session
        # the session ids the whole log implies, so a part keeps them
        table = table.drop_columns(
            [c for c in (Columns.SESSION, Columns.SESSION_INDEX) if c in table.column_names]
        )
        table = table.append_column(Columns.SESSION, pa.array(session.tolist(), pa.string()))
        results: list[RiskResult] = []
        for p in np.unique(period):
            rows = np.flatnonzero(period == p)
            part = table.take(pa.array(rows))
            results += [_shift_rows(r, rows) for r in self.score(part)]
            self.profiles_.update(part)
        return results

    def score_table(self, events: EventsLike | EventFrame) -> pa.Table:
        """:meth:`score` as a table: user_id, session, score, level, action, reasons, n_events."""
        results = self.score(events)
        return pa.table(
            {
                Columns.USER: pa.array([r.user_id for r in results], pa.string()),
                "session": pa.array([r.unit for r in results], pa.string()),
                "score": pa.array([r.score for r in results], pa.float64()),
                "level": pa.array([r.level for r in results], pa.string()),
                "action": pa.array([r.action for r in results], pa.string()),
                "reasons": pa.array([[x.text for x in r.reasons] for r in results], pa.list_(pa.string())),
                "n_events": pa.array([r.n_events for r in results], pa.int64()),
            }
        )

    # --- save / load -------------------------------------------------------------------------------

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``manifest.json``, ``config.json``, ``rules.yaml`` and ``profiles/`` (no pickles)."""
        self._check_fitted()
        with ArtifactWriter(
            folder,
            kind=AnomalyFiles.KIND_MODEL,
            format_version=AnomalyFiles.FORMAT_VERSION,
            overwrite=overwrite,
        ) as writer:
            write_json(writer.path / AnomalyFiles.CONFIG, self.config.model_dump(mode="json"))
            (writer.path / AnomalyFiles.RULES).write_text(self.rules.text, encoding="utf-8")
            self.profiles_.save(writer.path / AnomalyFiles.PROFILES_DIR)
            if self.surprise is not None:
                self.surprise.save(writer.path, self.calibration_)
            return writer.commit(
                {
                    "users": len(self.profiles_),
                    "events": self.fitted_events_,
                    "rules": [r.name for r in self.rules],
                    "surprise": self.surprise is not None,
                }
            )

    @classmethod
    def load(cls, folder: str | Path) -> AnomalyDetector:
        """Read a folder written by :meth:`save` (the rules are validated again).

        Raises
        ------
        ArtifactError
            If ``folder`` is not an anomaly model folder of a supported version.
        """
        folder = Path(folder)
        manifest = read_manifest(
            folder, kind=AnomalyFiles.KIND_MODEL, supported_versions=(AnomalyFiles.FORMAT_VERSION,)
        )
        config = AnomalyConfig.from_dict(
            read_json(folder / AnomalyFiles.CONFIG), file=str(folder / AnomalyFiles.CONFIG)
        )
        rules_path = folder / AnomalyFiles.RULES
        if not rules_path.is_file():
            raise ArtifactError(
                "file is missing", file=str(rules_path), fix="re-create the folder with `anomaly fit`"
            )
        rules = RuleSet.from_yaml(rules_path.read_text(encoding="utf-8"), file=str(rules_path))
        detector = cls(config, rules)
        detector.profiles_ = ProfileStore.load(folder / AnomalyFiles.PROFILES_DIR)
        detector.fitted_events_ = int(manifest.get("events", 0))
        detector.calibration_ = None
        if manifest.get("surprise"):
            detector.surprise, detector.calibration_ = SequenceSurprise.load(folder)
        return detector

    def _check_fitted(self) -> None:
        if not hasattr(self, "profiles_"):
            raise NotFittedError("AnomalyDetector is not fitted yet", fix="call fit(dataset_or_events) first")

    def get_params(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(mode="json"), "rules": self.rules.text}


def _shift_rows(result: RiskResult, rows: np.ndarray) -> RiskResult:
    from dataclasses import replace

    reasons = tuple(replace(r, rows=tuple(int(rows[k]) for k in r.rows)) for r in result.reasons)
    return replace(result, reasons=reasons, rows=tuple(int(rows[k]) for k in result.rows))


def _dataset_events(dataset: Dataset, split: str | None) -> pa.Table:
    table = dataset.events()
    if split is None or Columns.SPLIT not in table.column_names:
        return table
    column = table.column(Columns.SPLIT)
    wanted: Any = split if pa.types.is_string(column.type) else Splits.code(split)
    return table.filter(pc.equal(column, wanted))


def scores_and_labels(results: list[RiskResult], labels: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 0/1 labels aligned by unit (for metrics); units without a label are left out."""
    kept = [r for r in results if r.unit in labels]
    return np.array([r.score for r in kept]), np.array([labels[r.unit] for r in kept])
