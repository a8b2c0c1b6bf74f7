"""Cold-start popularity on a time split: does recency ("trending") help, and does the blend's choice
change when validation sees only the past?

Reads a Model trained by ``bench/intents.py`` (intent heads, profile) and its Dataset, and prints one
JSON object:

- ``popularity``: NDCG@10 / HR@10 of global item popularity on the cold-start cuts (histories of
  at most ``cold_start.max_events`` events), counted from the profile's training events with a
  half-life (``inf``: plain counts). Validation cuts count only events before the cut (what a
  model trained then would know); test cuts count every training event (they come after the test
  start, as the stored profile does).
- ``blend_grid``: the cold-start blend's (kappa, T) grid on the validation cold cuts, with the
  popularity of the user's segment as the Model stores it (counted over the whole training period,
  so partly after each validation cut) and as of each cut (past only); the choice each would make.

A diagnostic: it chooses nothing and writes nothing.

    python bench/cold_start_popularity.py bench/out/intents/models/kuairand-all-finetune \
        bench/out/intents/data/kuairand-all
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from seqintent.data import Dataset  # noqa: E402
from seqintent.evaluate.intents import intent_cuts  # noqa: E402
from seqintent.models import HistoryBatch, NextItemModel  # noqa: E402
from seqintent.models.inference import infer  # noqa: E402
from seqintent.models.profile import mixed_popularity  # noqa: E402
from seqintent.models.ranking import per_example_metrics, target_ranks  # noqa: E402
from seqintent.schema.columns import Splits, Vocabularies  # noqa: E402
from seqintent.train.labels import next_item_cuts  # noqa: E402
from seqintent.train.profile import KAPPAS, TEMPERATURES  # noqa: E402

HALF_LIVES_H = (math.inf, 72.0, 24.0, 12.0, 6.0, 2.0)


def cold_cuts(tokens, plan, split: str, limit: int) -> np.ndarray:
    """The cold-start cuts of ``split`` (as evaluate and training take them), oldest first."""
    cuts = next_item_cuts(tokens, plan, split, limit)
    return cuts[np.argsort(tokens.time_s[cuts], kind="stable")]


def metrics(ranks: list[int] | np.ndarray) -> dict[str, float]:
    per = per_example_metrics(np.asarray(ranks), (10,))
    return {k: round(float(per[k].mean()), 5) for k in ("NDCG@10", "HR@10")}


def rank_of(scores: np.ndarray, target: int) -> int:
    scores = scores.copy()
    scores[0] = -np.inf
    return int(target_ranks(scores[None], np.array([target]))[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    args = parser.parse_args()
    model = NextItemModel.from_pretrained(args.model)
    dataset = Dataset.load(args.dataset)
    tokens, plan, _ = intent_cuts(model, dataset)
    state = model.intents
    assert state is not None and plan.test_start_s is not None, "needs intent heads on a time split"
    profile, limit = state.profile, state.config.cold_start.max_events
    n_items = len(profile.popularity)
    # the profile's training events (multitask.IntentData.next_item_target before the test start)
    fit = (
        (tokens.item > 0) & (tokens.split == Splits.TRAIN) & (np.arange(tokens.n_events) > tokens.user_start)
    )
    fit &= (tokens.time_s < plan.test_start_s) & ~np.isin(tokens.user, plan.valid_users)
    events = np.flatnonzero(fit)
    events = events[np.argsort(tokens.time_s[events], kind="stable")]
    users = dataset.vocab(Vocabularies.USERS)
    segment = np.array([profile.segment_of(users.value_of(u)) for u in range(dataset.n_users)], dtype=object)
    segment = np.array([-1 if s is None else s for s in segment], dtype=np.int64)
    out: dict = {"model": str(args.model), "dataset": str(args.dataset), "max_events": limit}

    # --- popularity with a half-life -------------------------------------------------------------
    rates = np.array([0.0 if math.isinf(h) else math.log(2) / (3600.0 * h) for h in HALF_LIVES_H])
    # a weight exp(-rate * (test start - t)) per event: at any later moment the decayed counts are
    # these times one factor common to every item, which leaves the ranking as it is
    decayed = np.zeros((len(rates), n_items))
    j = 0
    valid = cold_cuts(tokens, plan, "valid", limit)
    ranks: dict[str, list[int]] = {str(h): [] for h in HALF_LIVES_H}

    def advance(until: float) -> None:
        nonlocal j
        while j < len(events) and tokens.time_s[events[j]] < until:
            age = plan.test_start_s - float(tokens.time_s[events[j]])
            decayed[:, tokens.item[events[j]]] += np.exp(-rates * age)
            j += 1

    for c in valid:
        advance(float(tokens.time_s[c]))
        for h, row in zip(HALF_LIVES_H, decayed, strict=True):
            ranks[str(h)].append(rank_of(row, int(tokens.item[c + 1])))
    out["popularity"] = {"valid": {h: metrics(r) for h, r in ranks.items()}, "valid_cuts": len(valid)}
    advance(plan.test_start_s)
    test = cold_cuts(tokens, plan, "test", limit)
    out["popularity"]["test"] = {
        str(h): metrics([rank_of(row, int(tokens.item[c + 1])) for c in test])
        for h, row in zip(HALF_LIVES_H, decayed, strict=True)
    }
    out["popularity"]["test_cuts"] = len(test)

    # --- the blend's grid on validation: stored popularity against past-only --------------------
    # past-only: the segment's shares among the events before the cut (as Profile.popularity_of mixes
    # the stored ones), gathered while the cuts are walked in time order
    counts = np.zeros((int(segment.max()) + 2, n_items))  # row -1: users without a segment
    total = np.zeros(n_items)
    past = np.zeros((len(valid), n_items), dtype=np.float32)
    j = 0
    for i, c in enumerate(valid):
        while j < len(events) and tokens.time_s[events[j]] < tokens.time_s[c]:
            e = events[j]
            total[tokens.item[e]] += 1.0
            counts[segment[tokens.user[e]], tokens.item[e]] += 1.0
            j += 1
        s = int(segment[tokens.user[c]])
        overall = total / max(total.sum(), 1.0)
        past[i] = mixed_popularity(counts[s], overall) if s >= 0 and counts[s].sum() else overall
    segments = [None if s < 0 else int(s) for s in segment[tokens.user[valid]]]
    n_events = np.minimum(valid - tokens.user_start[valid] + 1, model.config.model.max_len)
    targets = tokens.item[valid + 1]
    grid: dict[str, dict] = {"stored": {}, "past_only": {}}
    for part in np.array_split(np.arange(len(valid)), max(1, len(valid) // 512)):
        c = valid[part]
        logits = infer(
            model, HistoryBatch(tokens, tokens.user_start[c], c + 1, tokens.time_s[c + 1])
        ).next_item
        for kappa in KAPPAS:
            for t in TEMPERATURES:
                profile.kappa, profile.temperature = kappa, t
                seg = [segments[i] for i in part]
                for name, pop in (("stored", None), ("past_only", past[part])):
                    scores = profile.blend(logits, n_events[part], seg, popularity=pop)
                    grid[name].setdefault((kappa, t), []).append(target_ranks(scores, targets[part]))
    out["blend_grid"] = {}
    for name, table in grid.items():
        scores = {
            f"kappa={k:g},T={t:g}": metrics(np.concatenate(r))["NDCG@10"] for (k, t), r in table.items()
        }
        best = max(scores, key=scores.get)  # first of the best: the smaller kappa, then T (as choose_blend)
        out["blend_grid"][name] = {
            "chosen": best,
            "chosen_NDCG@10": scores[best],
            "popularity_alone": scores[f"kappa={KAPPAS[-1]:g},T=1"],
            "model_alone": scores["kappa=0,T=1"],
            "grid": scores,
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
