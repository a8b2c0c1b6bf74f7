"""A diagnostic: a trained model's ranking figures as its two priors are scaled from the weights
training chose. It chooses nothing; run on the test split it only shows what re-weighing the
priors could reach, and at what cost to each figure.

    python bench/prior_frontier.py bench/out/models/diginetica-refit bench/out/ingested/diginetica
    python bench/prior_frontier.py MODEL DATASET --split valid --scales 0,0 1,0 1,0.5 1,1

Each ``--scales`` pair multiplies the transition prior's and the neighbour prior's fitted weights
(``1,1`` is the model as trained, ``0,0`` its network alone). Prints one JSON object: per pair, the
weights it gives and HR / NDCG / MRR at 10 and 20 (and, on the session sets, ``session_metrics``:
P@20 and MRR@20 in %).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from seqintent.data import load_dataset  # noqa: E402
from seqintent.evaluate.ranking import evaluate_ranking, protocol_of, session_metrics  # noqa: E402
from seqintent.models.model import NextItemModel  # noqa: E402

DEFAULT_SCALES = ("0,0", "1,0", "1,0.125", "1,0.25", "1,0.5", "1,1")
KEPT = ("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20", "MRR@20")


def _prior_head(model: NextItemModel) -> torch.nn.Module:
    """The next-item head, which holds both priors' buffers (weights folded in)."""
    head = model.network.next_item
    if head.prior_bonus is None or head.neighbour_weight is None:
        raise SystemExit(
            "the model has no transition and neighbour priors (model.transition_prior, neighbour_prior)"
        )
    return head


def frontier(
    model_dir: str, dataset_dir: str, split: str, scales: list[tuple[float, float]]
) -> dict[str, Any]:
    model = NextItemModel.from_pretrained(model_dir)
    dataset = load_dataset(dataset_dir)
    head = _prior_head(model)
    bonus, votes = head.prior_bonus.clone(), head.neighbour_weight.clone()
    chosen = {
        "transition": model.metrics.get("transition_prior", {}).get("weight"),
        "neighbour": model.metrics.get("neighbour_prior", {}).get("weight"),
    }
    sessions = protocol_of(dataset) == "all_prefix"
    rows = []
    for transition, neighbour in scales:
        head.prior_bonus.copy_(bonus * transition)
        head.neighbour_weight.copy_(votes * neighbour)
        result = evaluate_ranking(dataset, {"model": model}, split=split, bootstrap=0)["model"]
        row: dict[str, Any] = {
            "transition_weight": (chosen["transition"] or 0) * transition,
            "neighbour_weight": (chosen["neighbour"] or 0) * neighbour,
            **{k: round(result.metrics[k], 4) for k in KEPT},
        }
        if sessions:
            row["session_metrics"] = session_metrics(result.metrics)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return {
        "model": model_dir,
        "dataset": dataset_dir,
        "split": split,
        "chosen_weights": chosen,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("--split", choices=["valid", "test"], default="test")
    parser.add_argument(
        "--scales", nargs="+", default=list(DEFAULT_SCALES), help="transition,neighbour multipliers"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scales = [tuple(float(x) for x in pair.split(",")) for pair in args.scales]
    if any(len(pair) != 2 for pair in scales):
        parser.error("--scales: each item is TRANSITION,NEIGHBOUR, e.g. 1,0.5")
    print(json.dumps(frontier(args.model, args.dataset, args.split, scales), indent=1))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
