"""The end-to-end demo: simulate → ingest → train → evaluate → predict → export, on the simulator.

``make demo`` (``seqintent demo``) runs :func:`run_demo`; it needs no data. Every step is one
call of the public API, so this module doubles as a worked example of the library.

>>> summary = run_demo("demo", users=600, epochs=2)   # doctest: +SKIP
>>> summary["evaluation"]["model"]["NDCG@10"]          # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_API_KEY = "demo-key"
"""The API key ``make serve`` accepts for the demo model (local trials only)."""


def run_demo(
    out: str | Path = "demo",
    *,
    users: int = 1500,
    seed: int = 0,
    epochs: int = 30,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole flow on a simulated e-commerce log and write every artifact under ``out``.

    Parameters
    ----------
    out:
        Folder for the log (``events.csv`` and its ground truth), the Dataset (``dataset/``), the
        Model (``model/``) and its Runtime (``model.runtime/``). Existing demo artifacts are replaced.
    users:
        Simulated users.
    seed:
        Seed of the simulation and of training.
    epochs:
        Upper bound on training epochs (early stopping usually ends sooner).
    progress:
        Show training progress bars (epochs, ETA, loss, validation NDCG) on stderr.
    echo:
        Where the readable summary goes.

    Returns
    -------
    dict
        ``{"paths": {...}, "stats": {...}, "evaluation": {...}, "prediction": {...}, "seconds": {...}}``.
    """
    from seqintent.evaluate import evaluate_model
    from seqintent.explain import predict
    from seqintent.ingest import dataset_stats, format_stats, ingest
    from seqintent.models import NextItemConfig
    from seqintent.runtime import export_runtime
    from seqintent.simulate import simulate
    from seqintent.train.pipeline import train_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "log": out / "events.csv",
        "dataset": out / "dataset",
        "model": out / "model",
        "runtime": out / "model.runtime",
        "store": out / "events.db",
    }
    seconds: dict[str, float] = {}

    def step(name: str, title: str) -> Callable[[], None]:
        echo(f"\n== {title}")
        start = time.perf_counter()
        return lambda: seconds.__setitem__(name, round(time.perf_counter() - start, 1))

    done = step("simulate", f"1. simulate an e-commerce log ({users:,} users, seed {seed})")
    sim = simulate("ecommerce", n_users=users, seed=seed, out=paths["log"])
    done()
    echo(f"wrote {sim.counts['events']:,} events to {paths['log']} (ground truth beside it)")

    done = step("ingest", "2. ingest it with DuckDB (preset `simulator`)")
    dataset = ingest(paths["log"], "simulator", paths["dataset"], overwrite=True)
    done()
    stats = dataset_stats(dataset)
    echo(format_stats(stats))

    done = step("train", "3. train the time-aware Transformer and its intent heads")
    config = NextItemConfig.load({"train": {"epochs": epochs, "seed": seed}})
    model = train_model(dataset, config, out=paths["model"], overwrite=True, progress=progress)
    done()
    echo(_training_line(model.metrics))

    done = step("evaluate", "4. evaluate on held-out events, beside classic baselines")
    # one LightGBM fit per label with default settings, not the validation grid of the benchmarks
    evaluation = evaluate_model(model, dataset, bootstrap=200, seed=seed, tune_baselines=False)
    done()
    echo(_evaluation_table(evaluation))

    user = dataset.vocab("users").value_of(0)
    done = step("predict", f"5. what does user {user} intend, and why?")
    prediction = predict(model, dataset=dataset, users=[str(user)], k=5)[0]
    done()
    echo(_prediction_text(prediction))

    done = step("export", "6. export the model to ONNX for the real-time service")
    runtime = export_runtime(paths["model"], paths["runtime"], overwrite=True)
    done()
    echo(f"runtime written to {runtime} (checked against PyTorch)")
    stored = _fill_store(dataset, paths["store"])
    echo(
        f"the last {SERVED_HISTORY} events of each user loaded into the online store {paths['store']} "
        f"({stored:,} events)"
    )

    done = step("risk", "7. risk: a simulated bank log with planted account takeovers")
    risk = _risk_demo(out / "finance", users=min(users, 300), seed=seed)
    done()
    echo(_risk_text(risk))

    echo("\n== 8. serve it")
    echo(
        f"make serve        # or: SEQINTENT_API_KEYS={DEMO_API_KEY} seqintent serve {paths['runtime']} "
        f"--store sqlite:///{paths['store']}"
    )
    auth = f"-H 'Authorization: Bearer {DEMO_API_KEY}'"
    echo(f"curl -s {auth} http://127.0.0.1:8000/v1/users/{user}/intent")
    echo(
        f"curl -s {auth} -H 'Content-Type: application/json' http://127.0.0.1:8000/v1/events -d "
        f"""'{{"events": [{{"event_id": "e1", "user_id": "{user}", "ts": "2024-05-02T10:00:00Z", """
        f""""action": "cart", "item_id": "{prediction["next_items"][0]["item"]}"}}]}}'"""
    )
    echo(f"\ndemo finished in {sum(seconds.values()):.0f} s; artifacts in {out}/")
    return {
        "paths": {k: str(v) for k, v in paths.items()},
        "stats": stats,
        "evaluation": evaluation,
        "prediction": prediction,
        "risk": risk,
        "seconds": seconds,
    }


SERVED_HISTORY = 200
"""Events per user the demo loads into the online store (the service's history window)."""


def _fill_store(dataset: Any, path: Path) -> int:
    """Load each user's newest events into a fresh SQLite event store, as the live stream would."""
    from seqintent.serve.store import open_store

    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    columns = ["user_id", "ts", "action", "item_id", "category", "dwell_s", "input_order"]
    table = dataset.events(columns=columns).sort_by(
        [("user_id", "ascending"), ("ts", "ascending"), ("input_order", "ascending")]
    )
    by_user: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        event_id = str(row.pop("input_order"))
        by_user.setdefault(str(row["user_id"]), []).append(
            {**row, "user_id": str(row["user_id"]), "event_id": event_id}
        )
    kept = [e for history in by_user.values() for e in history[-SERVED_HISTORY:]]
    store = open_store(f"sqlite:///{path}", max_events=SERVED_HISTORY)
    try:
        store.append(kept)
    finally:
        store.close()
    return len(kept)


def _risk_demo(folder: Path, *, users: int, seed: int) -> dict[str, Any]:
    """Fit habit profiles on the first weeks of a simulated bank log, then replay the rest."""
    from seqintent.anomaly.simulated import replay_after_warmup, simulated_bank_log

    log = simulated_bank_log(folder, users=users, seed=seed)
    scored = [(log.label_of(r), r) for r in replay_after_warmup(log)]
    takeovers = [r for label, r in scored if label == "takeover"]
    held_by_label: dict[str, list[float]] = {}
    for label, r in scored:
        counts = held_by_label.setdefault(label, [0, 0, 100.0, 0.0])
        counts[0] += r.action == "hold_for_review"
        counts[1] += 1
        counts[2], counts[3] = min(counts[2], r.score), max(counts[3], r.score)
    return {
        "sessions": len(scored),
        "held_by_label": held_by_label,
        "example": max(takeovers, key=lambda r: r.score).to_dict() if takeovers else None,
    }


def _risk_text(risk: dict[str, Any]) -> str:
    held = risk["held_by_label"]
    lines = [
        f"{risk['sessions']:,} sessions replayed after the profiles' warm-up weeks",
        f"  {'planted label':<15} {'held for review':>16}  {'risk min-max':>12}",
    ]
    lines.extend(
        f"  {label:<15} {n_held:>7,} of {n:<6,}  {low:>6.0f}-{high:<5.0f}"
        for label, (n_held, n, low, high) in sorted(held.items())
    )
    lines.append(
        "  (a lookalike has a takeover's red flags, new device at night and a large payment to a new"
        " payee, in a harmless order: held, but ranked below every takeover)"
    )
    example = risk["example"]
    if example:
        lines.append(
            f"example {example['session']}: risk {example['score']:.0f} ({example['level']}) "
            f"→ {example['action']}"
        )
        lines.extend(f"  because: {reason}" for reason in example["reasons"][:6])
    return "\n".join(lines)


def _training_line(metrics: dict[str, Any]) -> str:
    best = metrics.get("best_valid") or {}
    parts = [f"valid {k} {v:.3f}" for k, v in best.items() if k in ("HR@10", "NDCG@10")]
    if "best_epoch" in metrics:
        parts.insert(0, f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']}")
    intents = (metrics.get("intents") or {}).get("labels") or []
    if intents:
        parts.append("intent heads: " + ", ".join(intents))
    return "  ".join(parts)


def _evaluation_table(result: dict[str, Any]) -> str:
    columns = ("HR@10", "NDCG@10", "MRR@10")
    rows = [("model", result["model"]), *result.get("baselines", {}).items()]
    lines = [f"{'':<10}" + "".join(f"{c:>10}" for c in columns)]
    for name, metrics in rows:
        lines.append(f"{name:<10}" + "".join(f"{metrics.get(c, float('nan')):>10.4f}" for c in columns))
    for label, scores in (result.get("intents") or {}).items():
        if not isinstance(scores, dict) or "model" not in scores:
            continue
        auc = "  ".join(
            f"{name} {scores[name]['AUC']:.3f}" for name in ("model", "lightgbm", "logreg") if name in scores
        )
        lines.append(f"intent {label}: AUC {auc}")
    return "\n".join(lines)


def _prediction_text(result: dict[str, Any]) -> str:
    lines = []
    items = ", ".join(f"{x['item']} ({x['score']:.2f})" for x in result.get("next_items", [])[:5])
    lines.append(f"next items: {items}")
    actions = list((result.get("next_action") or {}).items())[:3]
    if actions:
        lines.append("next action: " + ", ".join(f"{a} {p:.0%}" for a, p in actions))
    for intent in result.get("intents", []):
        lines.append(f"intent {intent['label']}: {intent['probability']:.0%}")
    for sentence in (
        (result.get("rationale") or {}).values() if isinstance(result.get("rationale"), dict) else []
    ):
        lines.append(f"why: {sentence}")
    return "\n".join(lines)
