"""Taobao sample (``taobao-userbehavior-sample``) with injected anomalies — see ``bench/anomaly.py``.

Protocol: the preset ``taobao`` with a temporal split (Beijing days): train = Nov 25 – Nov 30,
valid = Dec 1, test = Dec 2 – Dec 3. Profiles, the next-item Transformer (for surprise) and the
isolation forest learn from the train period only. Into the valid and the test period we inject
sessions (seeded, documented in :func:`inject`), each in an hour the user is otherwise idle:

- ``bot_burst``: 10–40 page views, 2–20 s apart, of items drawn uniformly from the catalogue
  (crawling: no taste, no revisits);
- ``implausible_order``: 0–3 views of random items, then 2–6 purchases of other random items the
  user never touched, all within 30 s – 3 min (bulk buying blind; real sessions have at most two
  such purchases in the valid day, so two is not enough on its own).

About 4 % of the sessions of each period are injected; every real session is negative. Each
method's threshold is the one with the best F1 on the valid day; P / R / F1 are reported on the
test days. Ours: habit profiles + the example rules (``seqintent/anomaly/examples/ecommerce.yaml``)
+ sequence surprise, as a 0–100 risk score. Baseline: scikit-learn's isolation forest on the
per-session features of :func:`seqintent.anomaly.features.session_features` (size, pace, gaps,
item and category variety, start hour, blind purchases, action shares), fitted on train sessions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _anomaly_common import SHARED, trained_model

from seqintent.anomaly import AnomalyConfig, AnomalyDetector, RuleSet, example_rules_path
from seqintent.anomaly.features import session_features
from seqintent.anomaly.metrics import best_f1_threshold, detection_metrics
from seqintent.anomaly.surprise import SequenceSurprise
from seqintent.ingest import ingest
from seqintent.schema import load_preset
from seqintent.schema.columns import Columns, Vocabularies

SPLIT = {"kind": "temporal", "valid_start": "2017-11-30T16:00:00Z", "test_start": "2017-12-01T16:00:00Z"}
MODEL = {
    "model": {"hidden": 64, "layers": 2, "heads": 2, "dropout": 0.3, "max_len": 50, "repeat_head": True},
    "train": {"epochs": 20, "batch_size": 64, "lr": 1e-3, "patience": 4, "seed": 0, "threads": 2},
}
INJECTED_SHARE = 0.04
KINDS = ("bot_burst", "implausible_order")
QUIET_MS = 40 * 60_000  # an injected session keeps this far from the user's real events


def inject(
    events: pa.Table, items: list[str], categories: dict[str, str], seed: int
) -> tuple[pa.Table, dict[str, str]]:
    """Real events plus injected sessions; returns the table (with ``session_id``) and unit → kind."""
    rng = np.random.default_rng(seed)
    users = events[Columns.USER].to_numpy(zero_copy_only=False).astype(str)
    ts = events[Columns.TIME].to_numpy()
    sessions = events[Columns.SESSION_INDEX].to_numpy().astype(str)
    lo, hi = int(ts.min()), int(ts.max())
    real_units = {f"{u}/{s}" for u, s in zip(users, sessions, strict=True)}
    n_inject = round(INJECTED_SHARE * len(real_units) / (1 - INJECTED_SHARE))
    by_user = {u: np.sort(ts[users == u]) for u in np.unique(users)}
    user_list = sorted(by_user)
    rows: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    for k in range(n_inject):
        kind = KINDS[k % 2]
        user = user_list[int(rng.integers(len(user_list)))]
        for _ in range(100):  # an hour the user is idle
            start = int(rng.integers(lo, hi - 3_600_000))
            near = by_user[user][
                (by_user[user] > start - QUIET_MS) & (by_user[user] < start + 3_600_000 + QUIET_MS)
            ]
            if len(near) == 0:
                break
        session = f"inj-{k}"
        steps: list[tuple[str, str]] = []
        if kind == "bot_burst":
            length = int(rng.integers(10, 41))
            steps = [("view", items[int(i)]) for i in rng.integers(len(items), size=length)]
            gaps = rng.uniform(2, 20, size=length) * 1000
        else:
            picks = rng.integers(len(items), size=9)
            views = int(rng.integers(0, 4))
            buys = int(rng.integers(2, 7))
            steps = [("view", items[int(i)]) for i in picks[:views]] + [
                ("buy", items[int(i)]) for i in picks[3 : 3 + buys]
            ]
            span = rng.uniform(30, 180) * 1000
            gaps = np.full(len(steps), span / max(len(steps), 1))
        t = start + np.cumsum(gaps).astype(np.int64)
        for (action, item), when in zip(steps, t, strict=True):
            rows.append(
                {
                    Columns.USER: user,
                    Columns.TIME: int(when),
                    Columns.ACTION: action,
                    Columns.ITEM: item,
                    Columns.CATEGORY: categories.get(item),
                    Columns.SESSION: session,
                }
            )
        kinds[f"{user}/{session}"] = kind
    real = pa.table(
        {
            Columns.USER: pa.array(users.tolist(), pa.string()),
            Columns.TIME: events[Columns.TIME],
            Columns.ACTION: events[Columns.ACTION],
            Columns.ITEM: pc.cast(events[Columns.ITEM], pa.string()),
            Columns.CATEGORY: pc.cast(events[Columns.CATEGORY], pa.string()),
            Columns.SESSION: pa.array(sessions.tolist(), pa.string()),
        }
    )
    fake = pa.Table.from_pylist(rows, schema=real.schema)
    return pa.concat_tables([real, fake]), kinds


def _session_ids_from_index(table: pa.Table) -> pa.Table:
    """The ingested table's per-user session number as the ``session_id`` column (replacing the
    column the Dataset already has, empty for Taobao), so session units match :func:`inject`'s."""
    if Columns.SESSION in table.column_names:
        table = table.drop_columns([Columns.SESSION])
    return table.append_column(Columns.SESSION, pc.cast(table[Columns.SESSION_INDEX], pa.string()))


def _labels(results_units: list[str], kinds: dict[str, str]) -> np.ndarray:
    return np.array([1 if u in kinds else 0 for u in results_units])


def _report(labels: np.ndarray, scores: np.ndarray, threshold: float, kinds: np.ndarray) -> dict[str, Any]:
    m = detection_metrics(labels, scores, threshold=threshold)
    recall_by_kind = {k: round(float((scores[kinds == k] >= threshold).mean()), 4) for k in KINDS}
    return {
        **{k: m[k] for k in ("precision", "recall", "f1", "roc_auc", "pr_auc", "fpr", "fpr_at_90_recall")},
        "threshold": threshold,
        "recall_by_kind": recall_by_kind,
    }


def run(work: Path, seed: int, *, surprise: bool = True) -> dict[str, Any]:
    config = load_preset("taobao").to_dict()
    config["split"] = SPLIT
    dataset = ingest(SHARED / "taobao-userbehavior-sample", config, work / "taobao", overwrite=True)
    events = dataset.events()
    parts = {
        name: events.filter(pc.equal(events[Columns.SPLIT], name)) for name in ("train", "valid", "test")
    }
    item_vocab = dataset.vocab(Vocabularies.ITEMS)
    items = [v for v in item_vocab.values if v is not None]
    pairs = events.select([Columns.ITEM, Columns.CATEGORY]).to_pylist()
    categories = {str(p[Columns.ITEM]): str(p[Columns.CATEGORY]) for p in pairs}
    valid, valid_kinds = inject(parts["valid"], items, categories, seed=2 * seed + 1)
    test, test_kinds = inject(parts["test"], items, categories, seed=2 * seed + 2)

    started = time.perf_counter()
    model, reused = trained_model(dataset, MODEL, work) if surprise else (None, False)
    train_s = time.perf_counter() - started
    rules = RuleSet.from_yaml(example_rules_path("ecommerce").read_text(encoding="utf-8"))
    variants = {"profiles+rules": AnomalyDetector(AnomalyConfig(), rules)}
    if model is not None:
        variants = {
            "profiles+rules+surprise": AnomalyDetector(AnomalyConfig(), rules, SequenceSurprise(model)),
            **variants,
            "surprise": AnomalyDetector(AnomalyConfig(), None, SequenceSurprise(model)),
        }
    out: dict[str, Any] = {}
    for name, detector in variants.items():
        detector.fit(parts["train"])
        started = time.perf_counter()
        v = detector.score(valid)
        t = detector.score(test)
        seconds = time.perf_counter() - started
        v_labels, t_labels = (
            _labels([r.unit for r in v], valid_kinds),
            _labels([r.unit for r in t], test_kinds),
        )
        v_scores, t_scores = np.array([r.score for r in v]), np.array([r.score for r in t])
        threshold = best_f1_threshold(v_labels, v_scores)
        t_kind = np.array([test_kinds.get(r.unit, "real") for r in t])
        out[name] = {**_report(t_labels, t_scores, threshold, t_kind), "score_seconds": round(seconds, 1)}

    from sklearn.ensemble import IsolationForest

    forest_frames = {}
    for name, table in (("train", parts["train"]), ("valid", valid), ("test", test)):
        if name == "train":
            table = _session_ids_from_index(table)
        forest_frames[name] = session_features(AnomalyDetector().fit(parts["train"]).frame(table))
    forest = IsolationForest(n_estimators=300, random_state=seed).fit(forest_frames["train"][1])
    units_v, x_v = forest_frames["valid"]
    units_t, x_t = forest_frames["test"]
    s_v, s_t = -forest.score_samples(x_v), -forest.score_samples(x_t)
    threshold = best_f1_threshold(_labels(units_v, valid_kinds), s_v)
    t_kind = np.array([test_kinds.get(u, "real") for u in units_t])
    out["isolation_forest"] = _report(_labels(units_t, test_kinds), s_t, threshold, t_kind)

    best = out["profiles+rules+surprise" if model is not None else "profiles+rules"]
    return {
        **{k: best[k] for k in ("precision", "recall", "f1", "roc_auc", "pr_auc")},
        "variants": out,
        "test_sessions": {"real": int(len(units_t) - len(test_kinds)), "injected": len(test_kinds)},
        "valid_sessions": {"real": int(len(units_v) - len(valid_kinds)), "injected": len(valid_kinds)},
        "headline": "profiles+rules+surprise" if model is not None else "profiles+rules",
        "model": None
        if model is None
        else {
            "best_epoch": model.metrics.get("best_epoch"),
            "train_seconds": None if reused else round(train_s, 1),
            "reused": reused,
        },
    }
