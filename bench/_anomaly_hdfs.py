"""HDFS log-key sessions (``../shared/data/hdfs-deeplog``) — see ``bench/anomaly.py``.

Protocol (issue 5):
  fit        90 % of ``hdfs_train`` (4,855 normal sessions; split by session, seeded): the
             next-key Transformer (with an end-of-session marker) and the normal patterns of
             :class:`~seqintent.anomaly.novelty.SequenceNovelty` learn from these only — no
             abnormal session is ever seen in training;
  validation the other 10 % of ``hdfs_train`` (normals) and a seeded 20 % of the distinct key
             sequences of ``hdfs_test_abnormal`` (with their repeats); the detector and its
             threshold are chosen by F1 here, never on test;
  test       every normal row of ``robust_log_train.csv`` and ``robust_log_valid.csv`` (7,000
             held-out normals, all kept, including those whose sequence also occurs in
             ``hdfs_train``) and the sessions of ``hdfs_test_abnormal`` whose sequence is neither
             in ``hdfs_train`` nor in the validation part. The abnormal rows of ``robust_log_*`` are
             not used: every one repeats an ``hdfs_test_abnormal`` sequence.
  detectors  per session: max per-event NLL and DeepLog's top-g count (events outside the model's
             top g, g = 1 … 12) from our sequence model; unseen keys, unseen transitions, the L1
             distance of the key counts to the nearest normal count vector, count-invariant
             violations, and their sum ``novelty``; ``novelty+nll`` adds the max NLL / 100 as a
             tie-breaker within a novelty level. Flag when score ≥ threshold.
Figures are per session (repeats counted), as the DeepLog / LogBERT papers report; per distinct
sequence too.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
from _anomaly_common import SHARED, trained_model

from seqintent.anomaly._events import build_frame
from seqintent.anomaly.metrics import best_f1_threshold, detection_metrics
from seqintent.anomaly.novelty import SequenceNovelty
from seqintent.anomaly.surprise import SequenceSurprise
from seqintent.ingest import ingest
from seqintent.schema import load_preset
from seqintent.schema.columns import Columns

HDFS_MODEL = {
    "model": {"hidden": 64, "layers": 2, "heads": 2, "dropout": 0.1, "max_len": 50, "time_features": False},
    # the next-key accuracy of a held-out last event saturates after an epoch or two, long before
    # the rarer transitions are learned: train a fixed number of epochs instead of stopping early
    "train": {
        "epochs": 12,
        "batch_size": 64,
        "lr": 2e-3,
        "warmup_steps": 50,
        "patience": 12,
        "seed": 0,
        "threads": 1,
    },
}
END = "END"  # end-of-session marker: a session that stops where normal ones never stop is surprising
TOP_G = tuple(range(1, 13))
VALID_NORMAL_SHARE = 0.1
VALID_ABNORMAL_SHARE = 0.2
PROTOCOL = (
    "fit: 90% of hdfs_train (normal sessions only); validation: the other 10% of hdfs_train + a seeded"
    " 20% of the distinct hdfs_test_abnormal sequences (detector and threshold chosen there by F1);"
    " test: all 7,000 normal rows of robust_log_train/valid.csv (kept even when seen in training) +"
    " the other hdfs_test_abnormal sessions, minus sequences seen in hdfs_train; per session"
)


def _read_lines(path: Path) -> list[tuple[str, ...]]:
    with open(path, encoding="utf-8") as f:
        return [tuple(line.split()) for line in f if line.strip()]


def _read_normal_rows(path: Path) -> list[tuple[str, ...]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for number, row in enumerate(rows, start=2):
        if row.get("label") not in ("0", "1") or row.get("Sequence") is None:
            raise ValueError(f"{path}:{number}: expected columns Sequence,label with label 0 or 1")
    return [tuple(r["Sequence"].split()) for r in rows if r["label"] == "0"]


def _model_scores(model: Any, sequences: list[tuple[str, ...]]) -> dict[str, np.ndarray]:
    """max NLL and, for each g, the number of events outside the top g, per sequence."""
    rows = [
        {Columns.USER: f"s{k:06d}", Columns.ACTION: "other", Columns.ITEM: key}
        for k, seq in enumerate(sequences)
        for key in (*seq, END)
    ]
    frame = build_frame(rows, unit="user")
    found = SequenceSurprise(model).events(frame)
    index = np.array([int(u[1:]) for u in frame.users])
    user_of_event = frame.user_index
    max_nll = np.zeros(len(sequences))
    outside = np.zeros((len(TOP_G), len(sequences)))
    scored = found.rank > 0
    np.maximum.at(max_nll, index[user_of_event[scored]], found.nll[scored])
    for j, g in enumerate(TOP_G):
        hit = scored & (found.rank > g)
        np.add.at(outside[j], index[user_of_event[hit]], 1)
    return {"max_nll": max_nll, **{f"top{g}": outside[j] for j, g in enumerate(TOP_G)}}


def _train_model(fit: list[tuple[str, ...]], work: Path, seed: int) -> tuple[Any, bool]:
    preset = load_preset("hdfs").to_dict()
    with open(work / "hdfs_train", "w", encoding="utf-8") as dst:
        for seq in fit:
            dst.write(" ".join((*seq, END)) + "\n")
    config = {
        **preset,
        "name": "hdfs-fit",
        "sources": [s for s in preset["sources"] if s["path"] == "hdfs_train"],
        # the model's own early-stopping part is taken inside the fit part
        "split": {"kind": "by_user", "fractions": [0.9, 0.1, 0.0], "seed": seed},
    }
    for source in config["sources"]:
        source.pop("split", None)
    dataset = ingest(work, config, work / "hdfs-fit", overwrite=True)
    return trained_model(dataset, HDFS_MODEL, work, cache_key=f"fit-seed-{seed}")


def run(work: Path, seed: int, *, use_model: bool = True) -> dict[str, Any]:
    data = SHARED / "hdfs-deeplog"
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train = _read_lines(data / "hdfs_train")
    in_fit = np.ones(len(train), dtype=bool)
    in_fit[rng.choice(len(train), size=round(VALID_NORMAL_SHARE * len(train)), replace=False)] = False
    fit = [s for s, keep in zip(train, in_fit, strict=True) if keep]
    valid_normal = [s for s, keep in zip(train, in_fit, strict=True) if not keep]
    seen_in_training = set(train)

    abnormal = _read_lines(data / "hdfs_test_abnormal")
    abnormal_kept = [s for s in abnormal if s not in seen_in_training]
    distinct = sorted(set(abnormal_kept))
    valid_seqs = {
        distinct[i]
        for i in rng.choice(len(distinct), size=round(VALID_ABNORMAL_SHARE * len(distinct)), replace=False)
    }
    valid_abnormal = [s for s in abnormal_kept if s in valid_seqs]
    test_abnormal = [s for s in abnormal_kept if s not in valid_seqs]
    test_normal = [
        s for name in ("robust_log_train.csv", "robust_log_valid.csv") for s in _read_normal_rows(data / name)
    ]

    started = time.perf_counter()
    novelty = SequenceNovelty().fit(fit)
    model, reused = _train_model(fit, work, seed) if use_model else (None, False)
    train_s = time.perf_counter() - started

    # score each distinct sequence once, then expand to sessions
    parts = {
        "valid": (valid_normal, valid_abnormal),
        "test": (test_normal, test_abnormal),
    }
    every = sorted({s for normal, bad in parts.values() for s in (*normal, *bad)})
    position = {s: i for i, s in enumerate(every)}
    started = time.perf_counter()
    signals = novelty.score(every)
    if model is not None:
        signals.update(_model_scores(model, every))
        signals["novelty+nll"] = signals["novelty"] + signals["max_nll"] / 100.0
    score_s = time.perf_counter() - started

    def expand(part: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        normal, bad = parts[part]
        rows = np.array([position[s] for s in (*normal, *bad)])
        labels = np.r_[np.zeros(len(normal), dtype=int), np.ones(len(bad), dtype=int)]
        return labels, signals[name][rows], rows

    # choose the detector and its threshold on the validation part (session F1)
    chosen: dict[str, dict[str, float]] = {}
    for name in signals:
        v_labels, v_scores, _ = expand("valid", name)
        threshold = best_f1_threshold(v_labels, v_scores)
        chosen[name] = {
            "threshold": threshold,
            "valid_f1": detection_metrics(v_labels, v_scores, threshold=threshold)["f1"],
        }
    name = max(chosen, key=lambda n: chosen[n]["valid_f1"])  # the first listed on ties
    keys = ("precision", "recall", "f1", "roc_auc", "pr_auc", "fpr", "fpr_at_90_recall", "tp", "fp", "fn")
    t_labels, t_scores, t_rows = expand("test", name)
    per_session = detection_metrics(t_labels, t_scores, threshold=chosen[name]["threshold"])
    # per distinct sequence (a sequence with both labels counts once per label)
    pairs = sorted(set(zip(t_rows.tolist(), t_labels.tolist(), strict=True)))
    u_rows = np.array([r for r, _ in pairs])
    u_labels = np.array([y for _, y in pairs])
    per_sequence = detection_metrics(u_labels, signals[name][u_rows], threshold=chosen[name]["threshold"])
    every_detector = {}
    for other in signals:
        labels, scores, _ = expand("test", other)
        m = detection_metrics(labels, scores, threshold=chosen[other]["threshold"])
        every_detector[other] = {
            "valid_f1": round(chosen[other]["valid_f1"], 4),
            **{k: round(m[k], 4) for k in ("precision", "recall", "f1", "roc_auc", "pr_auc")},
        }
    return {
        **{k: per_session[k] for k in keys},
        "detector": name,
        "threshold": chosen[name]["threshold"],
        "valid_f1": chosen[name]["valid_f1"],
        "unique_sequences": {k: per_sequence[k] for k in keys},
        "detectors_on_test_for_information": every_detector,
        "valid_sessions": {"normal": len(valid_normal), "abnormal": len(valid_abnormal)},
        "test_sessions": {"normal": len(test_normal), "abnormal": len(test_abnormal)},
        "test_normal_sessions_seen_in_training": sum(s in seen_in_training for s in test_normal),
        "abnormal_removed_seen_in_training": len(abnormal) - len(abnormal_kept),
        "fit_sessions": len(fit),
        "model": None
        if model is None
        else {"best_epoch": model.metrics.get("best_epoch"), "best_valid": model.metrics.get("best_valid")},
        "train_seconds": None if reused else round(train_s, 1),
        "model_reused": reused,
        "score_seconds": round(score_s, 1),
        "protocol": PROTOCOL,
    }
