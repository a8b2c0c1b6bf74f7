"""HDFS log-key sessions (``../shared/data/hdfs-deeplog``) — see ``bench/anomaly.py``.

Protocol:
  train      the next-item Transformer on ``hdfs_train`` only (4,855 normal sessions; 10 % of them,
             by session, held out for early stopping) — no abnormal session is ever seen in training;
  pool       normal rows of ``robust_log_train.csv`` + ``robust_log_valid.csv`` (held-out normals)
             and every session of ``hdfs_test_abnormal``; a session whose exact key sequence occurs in
             ``hdfs_train`` is removed, and so is a sequence found with both labels;
  valid/test the pool's distinct sequences are split 20 / 80 at random (seeded, per label), so no
             sequence is in both; the detector and its threshold are chosen by F1 on the validation
             part (sessions counted with their repeats), and reported on the test part, per session
             and per distinct sequence.
  detectors  max per-event NLL over a session (flag ≥ t), and DeepLog's check (Du et al. 2017):
             the number of events whose key is outside the model's top g, for g = 1 … 12 (flag ≥ k).
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.anomaly._events import build_frame
from seqintent.anomaly.metrics import best_f1_threshold, detection_metrics
from seqintent.anomaly.surprise import SequenceSurprise
from seqintent.ingest import ingest
from seqintent.models import NextItemConfig
from seqintent.schema import load_preset
from seqintent.schema.columns import Columns
from seqintent.train import train_next_item

SHARED = Path(
    os.environ.get("SEQINTENT_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)
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
        "threads": 2,
    },
}
END = "END"  # end-of-session marker: a session that stops where normal ones never stop is surprising
TOP_G = tuple(range(1, 13))
PROTOCOL = (
    "train: hdfs_train normals only (+ end marker); test: held-out normals (robust_log_* label 0) and"
    " hdfs_test_abnormal, minus sequences seen in training; detector and threshold by F1 on a 20% part"
    " of the distinct sequences"
)
VALID_SHARE = 0.2


def _sessions(table: pa.Table) -> dict[str, tuple[tuple[str, ...], int, str]]:
    """user (session) → (key sequence, label, origin file)."""
    t = table.select([Columns.USER, Columns.ITEM])
    t = t.append_column("label", pc.struct_field(table[Columns.ATTRS], "label"))
    t = t.append_column("origin", pc.struct_field(table[Columns.ATTRS], "origin"))
    g = t.group_by(Columns.USER, use_threads=False).aggregate(
        [(Columns.ITEM, "list"), ("label", "max"), ("origin", "min")]
    )
    return {
        u: (tuple(items), int(label), origin)
        for u, items, label, origin in zip(
            g[Columns.USER].to_pylist(),
            g[f"{Columns.ITEM}_list"].to_pylist(),
            g["label_max"].to_pylist(),
            g["origin_min"].to_pylist(),
            strict=True,
        )
    }


def _surprise_by_sequence(model: Any, sequences: list[tuple[str, ...]]) -> dict[str, np.ndarray]:
    """max NLL and, for each g, the number of events outside the top g, per distinct sequence."""
    rows = [
        {Columns.USER: f"s{k:06d}", Columns.ACTION: "other", Columns.ITEM: key}
        for k, seq in enumerate(sequences)
        for key in seq
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


def _weighted(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.repeat(values, counts)


def run(work: Path, seed: int) -> dict[str, Any]:
    data = SHARED / "hdfs-deeplog"
    started = time.perf_counter()
    preset = load_preset("hdfs").to_dict()
    work.mkdir(parents=True, exist_ok=True)
    # hdfs_train with the end-of-session marker after each session's last key
    with (
        open(data / "hdfs_train", encoding="utf-8") as src,
        open(work / "hdfs_train", "w", encoding="utf-8") as dst,
    ):
        for line in src:
            dst.write(f"{line.strip()} {END}\n")
    train_config = {
        **preset,
        "name": "hdfs-train",
        "sources": [s for s in preset["sources"] if s["path"] == "hdfs_train"],
        "split": {"kind": "by_user", "fractions": [0.9, 0.1, 0.0], "seed": seed},
    }
    for source in train_config["sources"]:
        source.pop("split", None)
    train_ds = ingest(work, train_config, work / "hdfs-train", overwrite=True)
    model = train_next_item(train_ds, NextItemConfig.load(HDFS_MODEL))
    train_s = time.perf_counter() - started

    everything = ingest(data, "hdfs", work / "hdfs-all", overwrite=True)
    sessions = _sessions(everything.events(columns=[Columns.USER, Columns.ITEM, Columns.ATTRS]))
    seen = {seq for seq, _, origin in sessions.values() if origin == "hdfs_train"}
    pool: collections.Counter[tuple[tuple[str, ...], int]] = collections.Counter()
    removed = collections.Counter()
    for seq, label, origin in sessions.values():
        normal_row = origin.startswith("robust_log") and label == 0
        if not (normal_row or origin == "hdfs_test_abnormal"):
            continue  # abnormal robust_log rows all repeat hdfs_test_abnormal sequences
        if seq in seen:
            removed["seen_in_training"] += 1
            continue
        pool[(seq, label)] += 1
    labels_of = collections.defaultdict(set)
    for seq, label in pool:
        labels_of[seq].add(label)
    for (seq, label), count in list(pool.items()):
        if len(labels_of[seq]) > 1:
            removed["both_labels"] += count
            del pool[(seq, label)]

    keys = sorted(pool, key=lambda k: (k[1], k[0]))
    rng = np.random.default_rng(seed)
    label = np.array([k[1] for k in keys])
    counts = np.array([pool[k] for k in keys])
    in_valid = np.zeros(len(keys), dtype=bool)
    for value in (0, 1):
        members = np.flatnonzero(label == value)
        chosen = rng.choice(members, size=round(VALID_SHARE * len(members)), replace=False)
        in_valid[chosen] = True

    started = time.perf_counter()
    scores = _surprise_by_sequence(model, [(*k[0], END) for k in keys])
    score_s = time.perf_counter() - started

    # choose the detector and its threshold on the validation part, by session-weighted F1
    best: tuple[float, str, float] | None = None
    for name, values in scores.items():
        v_scores = _weighted(values[in_valid], counts[in_valid])
        v_labels = _weighted(label[in_valid], counts[in_valid])
        threshold = best_f1_threshold(v_labels, v_scores)
        f1 = detection_metrics(v_labels, v_scores, threshold=threshold)["f1"]
        if best is None or f1 > best[0] + 1e-12:
            best = (f1, name, threshold)
    assert best is not None
    valid_f1, name, threshold = best
    test = ~in_valid
    per_session = detection_metrics(
        _weighted(label[test], counts[test]), _weighted(scores[name][test], counts[test]), threshold=threshold
    )
    per_sequence = detection_metrics(label[test], scores[name][test], threshold=threshold)
    maxnll_auc = detection_metrics(
        _weighted(label[test], counts[test]),
        _weighted(scores["max_nll"][test], counts[test]),
        threshold=np.inf,
    )["roc_auc"]
    return {
        **{
            k: per_session[k]
            for k in ("precision", "recall", "f1", "roc_auc", "pr_auc", "fpr", "fpr_at_90_recall")
        },
        "detector": name,
        "threshold": threshold,
        "valid_f1": valid_f1,
        "roc_auc_max_nll": maxnll_auc,
        "unique_sequences": {
            k: per_sequence[k] for k in ("precision", "recall", "f1", "roc_auc", "pr_auc", "fpr")
        },
        "test_sessions": {
            "normal": int(counts[test & (label == 0)].sum()),
            "abnormal": int(counts[test & (label == 1)].sum()),
        },
        "test_sequences": {
            "normal": int((test & (label == 0)).sum()),
            "abnormal": int((test & (label == 1)).sum()),
        },
        "valid_sessions": {
            "normal": int(counts[in_valid & (label == 0)].sum()),
            "abnormal": int(counts[in_valid & (label == 1)].sum()),
        },
        "removed_sessions": dict(removed),
        "model": {
            "best_epoch": model.metrics.get("best_epoch"),
            "best_valid": model.metrics.get("best_valid"),
        },
        "train_seconds": round(train_s, 1),
        "score_seconds": round(score_s, 1),
        "protocol": PROTOCOL,
    }
