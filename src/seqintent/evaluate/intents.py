"""Intent evaluation: every label of a Model on its test cuts, beside LightGBM and logistic regression.

The cuts and labels are those the model was trained with (its ``intents.json`` protocol), so the
test cuts are the ones no training label looked at. Per label: AUC, PR-AUC, log-loss and ECE of the
calibrated probabilities (plus the ECE before calibration), and the same for LightGBM and logistic
regression on hand-made features of the same cuts (:mod:`seqintent.models.hand_features`), fitted
on the training cuts with early stopping on the validation cuts.

:func:`evaluate_cold_start` ranks the next item after short test histories with the raw model,
popularity (of the user's segment) and the cold-start blend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqintent.data import Dataset
from seqintent.evaluate.metrics import bootstrap_interval
from seqintent.models.base import HistoryBatch
from seqintent.models.calibration import calibrated_probabilities
from seqintent.models.features import EventTokens
from seqintent.models.hand_features import hand_features
from seqintent.models.inference import infer, intent_logits, require_intents
from seqintent.models.intent_metrics import binary_metrics, class_metrics
from seqintent.models.intents import IntentState
from seqintent.models.model import NextItemModel
from seqintent.models.ranking import per_example_metrics, target_ranks
from seqintent.models.tabular import KINDS, TabularBaseline
from seqintent.schema.columns import Splits, Vocabularies
from seqintent.train.labels import CutLabels, CutPlan, compute_labels, next_item_cuts, plan_cuts

DEFAULT_INTENT_BASELINES = KINDS
MAX_TRAIN_CUTS = 200_000


def intent_cuts(model: NextItemModel, dataset: Dataset) -> tuple[EventTokens, CutPlan, CutLabels]:
    """The cuts and labels of ``dataset`` under the model's intent protocol and trained labels."""
    require_intents(model)
    state = model.intents
    assert state is not None
    tokens = EventTokens.from_dataset(dataset, model.spec)
    horizons = [s.horizon_s for s in state.labels if s.horizon_s is not None]
    if any(s.horizon == "session" for s in state.labels):
        horizons.append(2 * dataset.config.sessions.gap_s)
    plan = plan_cuts(dataset, tokens, state.config.protocol, max(horizons) if horizons else None)
    return tokens, plan, compute_labels(dataset, tokens, state.labels, plan)


def _subsample(cuts: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or len(cuts) <= limit:
        return cuts
    return np.sort(np.random.default_rng(seed).choice(cuts, limit, replace=False))


def evaluate_intents(
    model: NextItemModel,
    dataset: Dataset,
    *,
    split: str = "test",
    baselines: Sequence[str] = DEFAULT_INTENT_BASELINES,
    max_examples: int | None = 50_000,
    seed: int = 0,
    tune_baselines: bool = True,
) -> dict[str, Any]:
    """Metrics of every intent label of ``model`` on the cuts of ``split``, beside the baselines.

    ``max_examples`` caps the evaluated cuts (a seeded subset; None: all); the baselines train on
    at most ``MAX_TRAIN_CUTS`` training cuts and, with ``tune_baselines``, pick their settings from
    a small grid on the validation cuts (8 LightGBM fits per label; off: one fit with defaults).

    Returns
    -------
    dict
        ``{"<label>": {"model": {"AUC", "PR_AUC", "log_loss", "ECE", "ECE_uncalibrated", …},
        "lightgbm": {…}, "logreg": {…}, "examples": n, "kind": …, "horizon": …}}``; labels with
        no cut in the split are left out.

    Raises
    ------
    NotFittedError
        If the model has no intent heads.
    """
    tokens, plan, labels = intent_cuts(model, dataset)
    state = model.intents
    assert state is not None
    code = Splits.code(split)
    report: dict[str, Any] = {}
    known_any = np.zeros(tokens.n_events, dtype=bool)
    for spec in state.labels:
        known_any |= labels.known(spec.name)
    cuts = _subsample(np.flatnonzero((plan.split == code) & known_any), max_examples, seed)
    if len(cuts) == 0:
        return report
    batch = HistoryBatch(tokens, tokens.user_start[cuts], cuts + 1, None)
    action, family, binary = intent_logits(model, batch)
    features = _Features(dataset, tokens)
    train_cuts = _subsample(plan.cuts("train"), MAX_TRAIN_CUTS, seed)
    valid_cuts = plan.cuts("valid")
    for spec in state.labels:
        known = labels.known(spec.name)
        mine = known[cuts]
        if not mine.any():
            continue
        y = labels.values[spec.name][cuts][mine]
        if spec.is_class:
            logits = (action if spec.kind == "next_action" else family)[mine]
        else:
            logits = binary[mine, state.binary_labels.index(spec)]
        entry: dict[str, Any] = {
            "kind": spec.kind,
            "horizon": spec.horizon,
            "examples": int(mine.sum()),
            "model": _metrics(spec.is_class, y, logits, state, spec.name),
        }
        tr, va = train_cuts[known[train_cuts]], valid_cuts[known[valid_cuts]]
        for kind in baselines:
            n_classes = logits.shape[1] if spec.is_class else None
            base = TabularBaseline(kind, n_classes=n_classes, seed=seed, tune=tune_baselines)  # type: ignore[arg-type]
            base.fit(features(tr), labels.values[spec.name][tr], features(va), labels.values[spec.name][va])
            p = base.predict_proba(features(cuts[mine]))
            entry[kind] = class_metrics(y, p) if spec.is_class else binary_metrics(y, p)
        report[spec.name] = entry
    return report


def _metrics(
    is_class: bool, y: np.ndarray, logits: np.ndarray, state: IntentState, name: str
) -> dict[str, float]:
    calibrated = calibrated_probabilities(logits, state.calibration.get(name))
    raw = calibrated_probabilities(logits, None)
    metric = class_metrics if is_class else binary_metrics
    out = metric(y, calibrated)
    before = metric(y, raw)
    out["ECE_uncalibrated"] = before["ECE"]
    out["log_loss_uncalibrated"] = before["log_loss"]
    out["calibration"] = state.calibration.get(name, {}).get("method", "none")  # type: ignore[assignment]
    return out


class _Features:
    """Hand features of cuts, computed once per cut."""

    def __init__(self, dataset: Dataset, tokens: EventTokens) -> None:
        self.dataset, self.tokens = dataset, tokens
        self.cache: dict[int, np.ndarray] = {}

    def __call__(self, cuts: np.ndarray) -> np.ndarray:
        missing = np.array([c for c in np.unique(cuts) if int(c) not in self.cache], dtype=np.int64)
        if len(missing):
            X, _ = hand_features(self.dataset, self.tokens, missing)  # noqa: N806
            self.cache.update(zip(missing.tolist(), X, strict=True))
        return np.stack([self.cache[int(c)] for c in cuts]) if len(cuts) else np.zeros((0, 0), np.float32)


def evaluate_cold_start(
    model: NextItemModel,
    dataset: Dataset,
    *,
    split: str = "test",
    max_events: int | None = None,
    max_examples: int | None = 20000,
    seed: int = 0,
) -> dict[str, Any]:
    """Next-item ranking after short histories: raw model, segment popularity and the blend.

    The examples are the cuts of ``split`` whose history has at most ``max_events`` events
    (default: the model's cold-start threshold) and whose next event has an item, seen within
    the look-ahead; the target is that item.

    Returns
    -------
    dict
        ``{"examples", "max_events", "blend": {"HR@10", "NDCG@10", …}, "model": {…},
        "popularity": {…}, "blend_minus": {"model": {"NDCG@10": [lo, hi], …}, "popularity": …}}``
        (popularity of the user's segment, or global; ``blend_minus``: 95% paired bootstrap
        intervals of the blend's gain per example, so a margin can be told from noise).
    """
    tokens, plan, _ = intent_cuts(model, dataset)
    state = model.intents
    assert state is not None
    limit = state.config.cold_start.max_events if max_events is None else max_events
    cuts = _subsample(next_item_cuts(tokens, plan, split, limit), max_examples, seed)
    out: dict[str, Any] = {"examples": len(cuts), "max_events": limit}
    if len(cuts) == 0:
        return out
    users = dataset.vocab(Vocabularies.USERS)
    segments = [state.profile.segment_of(users.value_of(int(u))) for u in tokens.user[cuts]]
    targets = tokens.item[cuts + 1]
    query = tokens.time_s[cuts + 1] if dataset.has_time else None
    ranks: dict[str, list[np.ndarray]] = {"blend": [], "model": [], "popularity": []}
    for lo in range(0, len(cuts), 512):
        part = slice(lo, lo + 512)
        c = cuts[part]
        batch = HistoryBatch(tokens, tokens.user_start[c], c + 1, None if query is None else query[part])
        logits = infer(model, batch).next_item
        n = np.minimum(c - tokens.user_start[c] + 1, model.config.model.max_len)
        ranks["blend"].append(target_ranks(state.profile.blend(logits, n, segments[part]), targets[part]))
        ranks["model"].append(target_ranks(logits, targets[part]))
        pop = np.stack([state.profile.popularity_of(s) for s in segments[part]]).astype(np.float64)
        pop[:, 0] = -np.inf
        ranks["popularity"].append(target_ranks(pop, targets[part]))
    per = {name: per_example_metrics(np.concatenate(parts), (10, 20)) for name, parts in ranks.items()}
    for name, metrics in per.items():
        out[name] = {k: round(float(v.mean()), 5) for k, v in metrics.items()}
    out["blend_minus"] = {
        other: {
            k: [round(x, 5) for x in bootstrap_interval(per["blend"][k] - per[other][k], seed=seed)]
            for k in ("NDCG@10", "HR@10")
        }
        for other in ("model", "popularity")
    }
    return out
