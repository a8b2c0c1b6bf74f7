"""Next-item quality and training speed beside the published numbers and RecBole's SASRec.

Per dataset: train the Transformer with ``bench/configs/NAME.yaml`` (chosen on validation data),
evaluate the test split with full-catalogue ranking beside the baselines (same code), optionally
the ablations (time features off; importance truncation) and RecBole 1.2.1's SASRec on the same
sequences with the same thread count. Each dataset's result is cached in
``bench/out/quality/NAME.json``; the table of every cached result is printed as one JSON object
and, with ``--write-md``, written into ``BENCHMARKS.md`` between the quality markers.

    python bench/quality.py beauty [--recbole] [--ablations] [--set train.epochs=5] [--tag T]
    python bench/quality.py beauty --prior-of T   # fit the config's priors on NAME-T, no training
    python bench/quality.py --table --write-md

RecBole needs its own virtual environment (``.venv-recbole``, see ../shared/peers/recbole/README.md).
Run long ones under ``nice`` in the background; timings on a shared machine are noisy, so speed is
compared as ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# As RecBole's runner does: OpenMP threads that spin-wait collapse when another process takes a core
# (measured here: 2 s instead of 0.35 s per step on a loaded machine). Set before torch starts OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from seqintent.data import Dataset  # noqa: E402
from seqintent.evaluate import evaluate_model, evaluate_ranking  # noqa: E402
from seqintent.models import NextItemConfig, NextItemModel  # noqa: E402
from seqintent.train import add_neighbour_prior, add_transition_prior, train_next_item  # noqa: E402

SHARED = Path(os.environ.get("SEQINTENT_SHARED_DATA", ROOT / ".." / "shared" / "data")).resolve()
PEERS = (ROOT / ".." / "shared" / "peers" / "recbole").resolve()
OUT = ROOT / "bench" / "out"
CONFIGS = ROOT / "bench" / "configs"
MARK_START, MARK_END = "<!-- quality:start -->", "<!-- quality:end -->"

# name → how to build it, and the best published figures on the same protocol
DATASETS: dict[str, dict[str, Any]] = {
    "beauty": {
        "ingest": ["s3rec", "seqrec-benchmarks-s3rec/Beauty.txt"],
        "atomic": ["s3rec", "seqrec-benchmarks-s3rec/Beauty.txt"],
        "published": {"NDCG@10": 0.0531, "HR@10": 0.0928, "by": "eSASRec (RecSys'25)"},
        "target": {"NDCG@10": 0.056},
    },
    "sports": {
        "ingest": ["s3rec", "seqrec-benchmarks-s3rec/Sports_and_Outdoors.txt"],
        "published": {"NDCG@10": 0.0323, "HR@10": 0.0569, "by": "best published"},
        "target": {"NDCG@10": 0.034},
    },
    "toys": {
        "ingest": ["s3rec", "seqrec-benchmarks-s3rec/Toys_and_Games.txt"],
        "published": {"NDCG@10": 0.0580, "HR@10": 0.0970, "by": "best published"},
        "target": {"NDCG@10": 0.061},
    },
    "yelp": {
        "ingest": ["s3rec", "seqrec-benchmarks-s3rec/Yelp.txt"],
        "published": {"NDCG@10": 0.0207, "HR@10": 0.0409, "by": "ICLRec (WWW'22)"},
        "target": {"NDCG@10": 0.022},
    },
    "tmall": {
        "ingest": ["gcegnn", "session-rec-benchmarks-gcegnn/Tmall"],
        "published": {"P@20": 33.42, "MRR@20": 15.42, "by": "GCE-GNN (SIGIR'20)"},
    },
    "diginetica": {
        "ingest": ["gcegnn", "session-rec-benchmarks-gcegnn/diginetica"],
        "published": {"P@20": 54.22, "MRR@20": 19.04, "by": "GCE-GNN (SIGIR'20)"},
    },
    "nowplaying": {
        "ingest": ["gcegnn", "session-rec-benchmarks-gcegnn/Nowplaying"],
        "published": {"P@20": 22.37, "MRR@20": 8.40, "by": "GCE-GNN (SIGIR'20)"},
    },
    "taobao": {
        "ingest": ["taobao-5core", "taobao-userbehavior-sample"],
        "atomic": ["taobao", "taobao-userbehavior-sample/UserBehavior.csv"],
        "published": {"NDCG@10": 0.4893, "HR@10": 0.6436, "by": "RecBole SASRec (5-core)"},
    },
    "taobao_nocore": {
        "ingest": ["taobao", "taobao-userbehavior-sample"],
        "published": {"by": "no published figure: all 815 users and 55k items, for the truncation test"},
    },
    "ml100k": {
        "ingest": ["movielens-100k", "movielens-100k"],
        "atomic": ["ml", "movielens-100k/u.data"],
        "published": {"NDCG@10": 0.0620, "by": "RecBole SASRec after 33 min, not converged"},
    },
}


def prepare(name: str) -> Dataset:
    """The Dataset of ``name`` under bench/out/ingested, ingested once with its shipped preset."""
    folder = OUT / "ingested" / name
    if not (folder / "manifest.json").is_file():
        preset, source = DATASETS[name]["ingest"]
        cmd = [
            str(Path(sys.executable).parent / "seqintent"),
            "ingest",
            "--preset",
            preset,
            str(SHARED / source),
            "-o",
            str(folder),
            "--overwrite",
        ]
        subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    return Dataset.load(folder)


def load_config(name: str, overrides: list[str]) -> NextItemConfig:
    data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text()) or {}
    data.setdefault("model", {})
    data.setdefault("train", {})
    for item in overrides:
        key, value = item.split("=", 1)
        section, field = key.split(".", 1)
        data[section][field] = yaml.safe_load(value)
    return NextItemConfig.load(data)


# with train.select_with_priors: each epoch's network-alone figures and the prior weights chosen for it
SELECTION_KEYS = ("valid_network", "priors")


def train_and_evaluate(
    ds: Dataset, config: NextItemConfig, out: Path, baselines: list[str]
) -> dict[str, Any]:
    t0, load0 = time.perf_counter(), os.getloadavg()
    model = train_next_item(ds, config, out=out, overwrite=True, progress=sys.stderr.isatty())
    wall, load1 = time.perf_counter() - t0, os.getloadavg()
    report = evaluate_model(model, ds, split="test", baselines=baselines)
    history = [
        {k: r[k] for k in ("epoch", "loss", "train_s", "valid_s", "valid", *SELECTION_KEYS) if k in r}
        for r in model.metrics["history"]
    ]
    report["training"] = {k: v for k, v in model.metrics.items() if k != "history"} | {
        "wall_s": round(wall, 1),
        # other tenants of the machine inflate timings: the 1-minute load average before and after
        "loadavg_start_end": [round(load0[0], 2), round(load1[0], 2)],
    }
    report["history"] = history
    report["config"] = config.to_dict()
    return report


def prior_of(ds: Dataset, source: str, baselines: list[str], config: NextItemConfig) -> dict[str, Any]:
    """The trained model ``source`` with the priors of ``config`` (the dataset's bench config: its
    transition and neighbour priors and the metric that weighs them) fitted as training's end fits
    them (models trained before a prior existed), evaluated as a run of its own."""
    t0, load0 = time.perf_counter(), os.getloadavg()
    cfg, metric = config.model, config.train.prior_weighing_metric
    model = NextItemModel.from_pretrained(OUT / "models" / source)
    model = add_transition_prior(model, ds, top=cfg.transition_prior or None, metric=metric)
    if cfg.neighbour_prior:
        model = add_neighbour_prior(
            model, ds, top=cfg.neighbour_prior, history=cfg.neighbour_history, metric=metric
        )
    model.save_pretrained(OUT / "models" / f"{source}-prior", overwrite=True)
    wall, load1 = time.perf_counter() - t0, os.getloadavg()
    report = evaluate_model(model, ds, split="test", baselines=baselines)
    trained = json.loads((OUT / "quality" / f"{source}.json").read_text())
    report["training"] = trained["training"] | {
        "transition_prior": model.metrics["transition_prior"],
        "neighbour_prior": model.metrics.get("neighbour_prior"),
        "prior_wall_s": round(wall, 1),
        "prior_loadavg_start_end": [round(load0[0], 2), round(load1[0], 2)],
        "trained_by": trained.get("command"),
    }
    report["history"] = trained.get("history", [])
    report["config"] = model.config.to_dict()
    return report


def ablation(ds: Dataset, config: NextItemConfig, out: Path, **model_changes: Any) -> dict[str, Any]:
    data = config.to_dict()
    data["model"].update(model_changes)
    cfg = NextItemConfig.load(data)
    model = train_next_item(ds, cfg, out=out, overwrite=True)
    res = evaluate_ranking(ds, {"model": model}, split="test")["model"]
    return {
        "changes": model_changes,
        "test": res.metrics,
        "ci95": res.intervals,
        "best_epoch": model.metrics["best_epoch"],
        "seconds_to_best": model.metrics["seconds_to_best"],
    }


def run_recbole(name: str, time_budget_min: float, reuse: bool = False) -> dict[str, Any] | None:
    """RecBole 1.2.1 SASRec on the same sequences (its converter, its driver), or None without its venv.

    With ``reuse``, an earlier run's ``result.json`` is read instead of running again.
    """
    venv = ROOT / ".venv-recbole"
    if not (venv / "bin" / "python").exists() or "atomic" not in DATASETS[name]:
        return None
    kind, src = DATASETS[name]["atomic"]
    atomic = OUT / "recbole-data" / name
    if not (atomic / f"{name}.inter").is_file():
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                str(PEERS / "convert_atomic.py"),
                kind,
                str(SHARED / src),
                str(atomic),
            ],
            check=True,
        )
    result_path = OUT / "recbole-runs" / name / "SASRec" / "result.json"
    if not (reuse and result_path.is_file()):
        env = dict(
            os.environ,
            VENV=str(venv),
            THREADS="2",
            RUNS_DIR=str(OUT / "recbole-runs"),
            TIME_BUDGET_MIN=str(time_budget_min),
        )
        done = subprocess.run(["bash", str(PEERS / "run_recbole.sh"), str(atomic), "SASRec"], env=env)
        if done.returncode != 0:
            return {"error": f"run_recbole.sh exited {done.returncode}; see {OUT / 'recbole-runs' / name}"}
    result = json.loads(result_path.read_text())
    log = result["epoch_log"]
    elapsed, curve = 0.0, []
    for rec in log:
        elapsed += rec["train_s"] + rec.get("valid_s", 0.0)
        curve.append((elapsed, rec.get("valid", {}).get("ndcg@10")))
    best = result["best_epoch"]
    to_best = next((t for (t, _), rec in zip(curve, log, strict=True) if rec["epoch"] == best), None)
    return {
        "test": result["test"],
        "best_valid": result["best_valid"],
        "best_epoch": best,
        "epochs_run": result["epochs_run"],
        "stopped_by": result["stopped_by"],
        "train_s_per_epoch": result["train_s_per_epoch_mean"],
        "seconds_to_best": round(to_best or 0.0, 1),
        "wall_s": result.get("wall_s"),
        "n_train_samples": result["n_train_samples"],
    }


def speed_versus_recbole(ours: dict[str, Any], recbole: dict[str, Any]) -> dict[str, Any]:
    """Epoch time ratio, and how long each took to reach RecBole's best validation NDCG@10."""
    target = (recbole.get("best_valid") or {}).get("ndcg@10")
    elapsed, reached, reached_by = 0.0, None, None
    for rec in ours["history"]:
        elapsed += rec["train_s"] + rec.get("valid_s", 0.0)
        if target is not None and rec.get("valid", {}).get("NDCG@10", -1) >= target:
            # with train.select_with_priors an epoch's figures are the network's with both priors fitted
            by = "the network with its priors" if "valid_network" in rec else "the network"
            reached, reached_by = round(elapsed, 1), f"{by} at epoch {rec['epoch']}"
            break
    training = ours["training"]
    prior = training.get("transition_prior") or {}
    if reached is None and target is not None and prior.get("valid_NDCG@10_with", -1) >= target:
        # what `seqintent train` delivers: the network plus the prior fitted when training ends (the
        # history's per-epoch figures are the network's alone)
        reached = round(training["seconds_total"] + prior["seconds"], 1)
        reached_by = "the trained model, the transition prior included, when training ended"
    per_epoch = training["train_seconds_per_epoch"]
    return {
        "epoch_s": {
            "seqintent": per_epoch,
            "recbole": recbole["train_s_per_epoch"],
            "ratio": round(per_epoch / recbole["train_s_per_epoch"], 4),
        },
        "seconds_to_recbole_best_valid_ndcg10": {
            "seqintent": reached,
            "recbole": recbole["seconds_to_best"],
            "ratio": None if reached is None else round(reached / recbole["seconds_to_best"], 4),
            "reached_by": reached_by,
        },
        "test_ndcg10": {"seqintent": ours["model"]["NDCG@10"], "recbole": recbole["test"].get("ndcg@10")},
    }


def table() -> dict[str, Any]:
    results = {}
    for path in sorted((OUT / "quality").glob("*.json")):
        results[path.stem] = json.loads(path.read_text())
    return results


def markdown(results: dict[str, Any], variants: dict[str, Any] | None = None) -> str:
    lines = [
        MARK_START,
        "## Next-item quality (`bench/quality.py`)",
        "",
        "Full-catalogue ranking of the test split, no sampled negatives, history items not masked; "
        "leave-one-out for per-user data (max length 50), GCE-GNN's all-prefix protocol for the session "
        "sets (P@20 = HR@20 and MRR@20, in %). Settings were chosen on validation data only. "
        "Figures from `python bench/quality.py NAME [--recbole] [--ablations]`, table from "
        "`python bench/quality.py --table --write-md`; 95% bootstrap intervals in the JSON.",
        "",
        "| data | model NDCG@10 [95% CI] | HR@10 | MRR@10 | best baseline (NDCG@10) | published | target "
        "| epochs (best) | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        m, pub = r["model"], r.get("published", {})
        best_base = (
            max(r["baselines"].items(), key=lambda kv: kv[1]["NDCG@10"]) if r["baselines"] else ("-", {})
        )
        if "P@20" in pub:
            sm = r.get("session_metrics", {}).get("model", {})
            ours = f"P@20 {sm.get('P@20')} / MRR@20 {sm.get('MRR@20')}"
            published = f"{pub['P@20']} / {pub['MRR@20']} ({pub['by']})"
            row = [name, ours, f"{m['HR@10']:.4f}", f"{m['MRR@10']:.4f}"]
        else:
            published = (
                " / ".join(f"{k} {v}" for k, v in pub.items() if k != "by") + f" ({pub.get('by', '')})"
            )
            lo, hi = r.get("ci95", {}).get("model", {}).get("NDCG@10", [None, None])
            ci = f" [{lo:.4f}, {hi:.4f}]" if lo is not None else ""
            row = [name, f"**{m['NDCG@10']:.4f}**{ci}", f"{m['HR@10']:.4f}", f"{m['MRR@10']:.4f}"]
        target = (
            " ".join(f"{k} ≥ {v}" for k, v in r.get("target", {}).items()) or "beat published and baselines"
        )
        tr = r["training"]
        if "P@20" in pub:  # session sets: baselines on the published metrics, the best by P@20
            base = r.get("session_metrics", {}).get("baselines", {})
            name_b, b = max(base.items(), key=lambda kv: kv[1]["P@20"]) if base else ("-", {})
            best_cell = f"{name_b} P@20 {b.get('P@20')} / MRR@20 {b.get('MRR@20')}"
        else:
            best_cell = f"{best_base[0]} {best_base[1].get('NDCG@10', 0):.4f}"
        row += [
            best_cell,
            published,
            target,
            f"{tr['epochs_run']} ({tr['best_epoch']})"
            + ("" if tr["stopped_by"] == "early_stopping" else f", stopped by {tr['stopped_by']}"),
            f"{tr['train_seconds_per_epoch']}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Baselines (test NDCG@10 / HR@10):", ""]
    for name, r in results.items():
        base = ", ".join(f"{b} {v['NDCG@10']:.4f} / {v['HR@10']:.4f}" for b, v in r["baselines"].items())
        lines.append(f"- {name}: {base}")
    if variants:
        lines += ["", "Variants tried (`--tag T --set ...`), validation then test NDCG@10 / HR@10:", ""]
        for name, r in variants.items():
            cmd = r.get("command", "").replace("python bench/quality.py ", "")
            v, m = r["training"]["best_valid"], r["model"]
            lines.append(
                f"- {name} (`{cmd}`): valid {v['NDCG@10']:.4f} / {v['HR@10']:.4f}, "
                f"test {m['NDCG@10']:.4f} / {m['HR@10']:.4f}"
            )
    abl = {n: r["ablations"] for n, r in results.items() if r.get("ablations")}
    if abl:
        lines += ["", "Ablations (test NDCG@10 / HR@10):", ""]
        for name, items in abl.items():
            for label, a in items.items():
                lines.append(
                    f"- {name}, {label} ({a['changes']}): "
                    f"{a['test']['NDCG@10']:.4f} / {a['test']['HR@10']:.4f}"
                )
    speed = {n: r["recbole"] for n, r in results.items() if r.get("recbole", {}).get("versus")}
    if speed:
        lines += [
            "",
            "Training speed beside RecBole 1.2.1 SASRec (2 threads, same sequences, same run). The machine "
            "was shared with other jobs (1-minute load average 5-15 on 2 cores during these runs, recorded "
            "in the JSON), which slows both engines; ratios are the meaningful figures.",
            "",
            "| data | s/epoch ours | RecBole | ratio | s to RecBole's best valid NDCG@10: ours | RecBole "
            "| ratio | test NDCG@10 ours / RecBole | RecBole epochs, stop |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, s in speed.items():
            v = s["versus"]
            e, b, t = v["epoch_s"], v["seconds_to_recbole_best_valid_ndcg10"], v["test_ndcg10"]
            lines.append(
                f"| {name} | {e['seqintent']} | {e['recbole']} | {e['ratio']} | {b['seqintent']} "
                f"| {b['recbole']} "
                f"| {b['ratio']} | {t['seqintent']} / {t['recbole']} | {s['epochs_run']}, {s['stopped_by']} |"
            )
    lines.append(MARK_END)
    return "\n".join(lines)


def write_markdown(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    body = path.read_text() if path.exists() else "# Benchmarks\n"
    if MARK_START in body and MARK_END in body:
        head, rest = body.split(MARK_START, 1)
        body = head + text + rest.split(MARK_END, 1)[1]
    else:
        body = body.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?", choices=sorted(DATASETS))
    ap.add_argument("--set", action="append", default=[], help="config override, e.g. model.hidden=128")
    ap.add_argument("--tag", default="", help="suffix of the cached result (for tuning runs)")
    ap.add_argument("--baselines", default="pop,itemknn,markov,recent")
    ap.add_argument(
        "--ablations", action="store_true", help="also train with time features off / importance truncation"
    )
    ap.add_argument("--recbole", action="store_true", help="also run RecBole's SASRec (its own venv)")
    ap.add_argument("--recbole-minutes", type=float, default=0, help="RecBole time budget (0: none)")
    ap.add_argument(
        "--recbole-only", action="store_true", help="add RecBole to the cached result of NAME (no training)"
    )
    ap.add_argument(
        "--reuse-recbole", action="store_true", help="read the last RecBole result instead of running"
    )
    ap.add_argument(
        "--prior-of",
        metavar="TAG",
        help="no training: fit the priors of NAME's config (and --set) on the model NAME-TAG and evaluate "
        "it as NAME-TAG-prior",
    )
    ap.add_argument("--table", action="store_true", help="print every cached result as one JSON object")
    ap.add_argument("--write-md", action="store_true", help="write the table into BENCHMARKS.md")
    args = ap.parse_args()
    if args.name and args.recbole_only:
        path = OUT / "quality" / f"{args.name}.json"
        report = json.loads(path.read_text())
        recbole = run_recbole(args.name, args.recbole_minutes, reuse=args.reuse_recbole)
        if recbole is not None and "error" not in recbole:
            recbole["versus"] = speed_versus_recbole(report, recbole)
        report["recbole"] = recbole
        path.write_text(json.dumps(report, indent=1))
        print(json.dumps(recbole, indent=1))
    elif args.name and args.prior_of is not None:
        ds = prepare(args.name)
        source = args.name + (f"-{args.prior_of}" if args.prior_of else "")
        baselines = [b for b in args.baselines.split(",") if b]
        report = prior_of(ds, source, baselines, load_config(args.name, args.set))
        report["published"] = DATASETS[args.name].get("published", {})
        report["target"] = DATASETS[args.name].get("target", {})
        report["command"] = "python bench/quality.py " + " ".join(sys.argv[1:])
        (OUT / "quality" / f"{source}-prior.json").write_text(json.dumps(report, indent=1))
        print(json.dumps({k: v for k, v in report.items() if k not in ("history", "config")}, indent=1))
    elif args.name:
        ds = prepare(args.name)
        config = load_config(args.name, args.set)
        label = args.name + (f"-{args.tag}" if args.tag else "")
        report = train_and_evaluate(
            ds, config, OUT / "models" / label, [b for b in args.baselines.split(",") if b]
        )
        report["published"] = DATASETS[args.name].get("published", {})
        report["target"] = DATASETS[args.name].get("target", {})
        report["command"] = "python bench/quality.py " + " ".join(sys.argv[1:])
        if args.ablations:
            report["ablations"] = {}
            if ds.has_time:
                report["ablations"]["time_features_off"] = ablation(
                    ds, config, OUT / "models" / f"{label}-notime", time_features=False, time_bias=False
                )
            if ds.n_events / max(ds.n_users, 1) > config.model.max_len:
                report["ablations"]["importance_truncation"] = ablation(
                    ds, config, OUT / "models" / f"{label}-imp", truncation="importance"
                )
        if args.recbole:
            recbole = run_recbole(args.name, args.recbole_minutes, reuse=args.reuse_recbole)
            if recbole is not None and "error" not in recbole:
                recbole["versus"] = speed_versus_recbole(report, recbole)
                report["recbole"] = recbole
        (OUT / "quality").mkdir(parents=True, exist_ok=True)
        (OUT / "quality" / f"{label}.json").write_text(json.dumps(report, indent=1))
        print(json.dumps({k: v for k, v in report.items() if k not in ("history", "config")}, indent=1))
    if args.table or args.write_md:
        results = {
            k: v for k, v in table().items() if "-" not in k
        }  # tagged tuning runs stay out of the table
        if args.table:
            print(
                json.dumps(
                    {
                        "datasets": {
                            k: {x: v[x] for x in ("model", "baselines", "published", "training") if x in v}
                            for k, v in results.items()
                        }
                    },
                    indent=1,
                )
            )
        if args.write_md:
            variants = {k: v for k, v in table().items() if "-" in k and not k.endswith("-smoke")}
            write_markdown(markdown(results, variants))


if __name__ == "__main__":
    main()
