"""Is a label learnable from the model's own tokens? A linear probe on the newest events' tokens.

Diagnostic for ``bench/intents.py``: logistic regression (balanced classes) on one-hot dwell buckets
and actions of the newest ``--events`` events of each cut, trained on the training cuts and scored
(AUC) on the validation cuts of the same protocol. When this probe beats the intent heads by far,
the information is in the inputs and the heads fail to learn it (training, not data).

    python bench/intents_probe.py sim-content churn_7d --events 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intents as bench
from sklearn.linear_model import LogisticRegression

from seqintent.models.features import DWELL_BUCKETS, EventTokens, InputSpec
from seqintent.models.intent_metrics import roc_auc
from seqintent.schema.columns import Splits
from seqintent.train.labels import compute_labels, plan_cuts


def recent_tokens(tokens: EventTokens, cuts: np.ndarray, k: int, n_actions: int) -> np.ndarray:
    """One-hot dwell bucket and action of the newest ``k`` events of every cut (zeros before its start)."""
    width = DWELL_BUCKETS + n_actions
    X = np.zeros((len(cuts), k * width), dtype=np.float32)  # noqa: N806
    rows = np.arange(len(cuts))
    for j in range(k):
        e = cuts - j
        ok = e >= tokens.user_start[cuts]
        safe = np.maximum(e, 0)
        X[rows, j * width + np.where(ok, tokens.dwell[safe], 0)] = ok
        X[rows, j * width + DWELL_BUCKETS + np.where(ok, tokens.action[safe], 0)] = ok
    return X


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=list(bench.DATASETS))
    parser.add_argument("label")
    parser.add_argument("--events", type=int, default=10)
    args = parser.parse_args()
    ds = bench.prepare(args.dataset)
    _, icfg = bench.load_configs(args.dataset, "finetune", [])
    spec = next(s for s in icfg.labels or [] if s.name == args.label)
    tokens = EventTokens.from_dataset(ds, InputSpec.from_dataset(ds))
    horizons = [s.horizon_s for s in icfg.labels or [] if s.horizon_s]
    plan = plan_cuts(ds, tokens, icfg.protocol, max(horizons) if horizons else None)
    labels = compute_labels(ds, tokens, [spec], plan)
    y, known = labels.values[spec.name], labels.known(spec.name)
    train = np.flatnonzero((plan.split == Splits.TRAIN) & known)
    valid = np.flatnonzero((plan.split == Splits.VALID) & known)
    n_actions = int(tokens.action.max()) + 1
    probe = LogisticRegression(max_iter=300, class_weight="balanced")
    probe.fit(recent_tokens(tokens, train, args.events, n_actions), y[train])
    p = probe.predict_proba(recent_tokens(tokens, valid, args.events, n_actions))[:, 1]
    print(
        f"{args.dataset} {spec.name}: linear probe on the newest {args.events} events' dwell buckets and "
        f"actions, validation AUC {roc_auc(y[valid], p):.4f} ({len(train):,} training cuts, "
        f"{len(valid):,} validation cuts, positive rate {np.mean(y[valid]):.4f})"
    )


if __name__ == "__main__":
    main()
