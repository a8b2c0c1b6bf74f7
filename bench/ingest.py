"""Ingest speed and memory: seqintent (DuckDB) beside a straightforward pandas implementation.

Runs each engine in its own subprocess (so peak RSS is that engine's alone) on
(a) the Taobao UserBehavior sample from the shared data folder and
(b) a simulated e-commerce log of N events (default 10M), and prints one JSON object.

Usage::

    python bench/ingest.py                       # both inputs, N = 10M, 2 DuckDB threads
    python bench/ingest.py --events 1000000 --skip-pandas

The simulated log comes from ``seqintent simulate --scenario ecommerce`` when the simulator is
installed, else from a numpy generator with the same kind of columns (user_id, ts, action,
item_id, category, dwell_s); the JSON says which.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SHARED = Path(os.environ.get("SEQINTENT_SHARED_DATA", ROOT.parent / "shared" / "data"))
TAOBAO = SHARED / "taobao-userbehavior-sample" / "UserBehavior.csv"

ACTIONS = {"pv": "view", "view": "view", "click": "click", "cart": "cart", "fav": "fav", "buy": "buy"}
SESSION_GAP_S = 1800.0
MIN_DWELL_S = 1.0
MISCLICK = ("view", "click")


def taobao_config() -> dict[str, Any]:
    return {
        "name": "taobao-bench",
        "sources": [
            {
                "path": TAOBAO.name,
                "columns": ["user_id", "item_id", "category_id", "behavior", "ts"],
                "user_id": "user_id",
                "item_id": "item_id",
                "category": "category_id",
                "time": {"column": "ts", "unit": "s"},
                "action": {"column": "behavior", "map": {"pv": "view"}},
            }
        ],
    }


def simulated_config(path: Path) -> dict[str, Any]:
    return {
        "name": "simulated-bench",
        "sources": [
            {
                "path": path.name,
                "user_id": "user_id",
                "item_id": "item_id",
                "category": "category",
                "dwell_s": "dwell_s",
                "time": {"column": "ts", "unit": "s"},
                "action": {"column": "action"},
            }
        ],
    }


# --- the simulated log ------------------------------------------------------------------------------


def numpy_log(n_events: int, seed: int, path: Path) -> None:
    """A log with the simulator's kind of columns, in time order, written as CSV."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    n_users = max(1, n_events // 50)
    start = 1_700_000_000
    ts = np.sort(start + rng.integers(0, 30 * 86400, n_events))
    user = rng.zipf(1.5, n_events) % n_users
    action = np.array(["view", "click", "cart", "fav", "buy"])[
        rng.choice(5, n_events, p=[0.6, 0.2, 0.1, 0.06, 0.04])
    ]
    item = rng.zipf(1.3, n_events) % 200_000
    dwell = np.round(rng.exponential(20.0, n_events), 1)
    table = pa.table(
        {
            "user_id": user,
            "ts": ts,
            "action": action,
            "item_id": item,
            "category": item % 500,
            "dwell_s": dwell,
        }
    )
    options = pacsv.WriteOptions(quoting_style="none")
    pacsv.write_csv(table, path, write_options=options)


def simulated_log(n_events: int, seed: int) -> tuple[Path, str]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"simulated-{n_events}-{seed}.csv"
    if not path.exists():
        numpy_log(n_events, seed, path)
    return path, "numpy generator (bench/ingest.py)"


# --- workers (each runs in its own process) -----------------------------------------------------------


def run_seqintent(path: Path, config: dict[str, Any], out: Path, threads: int) -> dict[str, Any]:
    from seqintent.ingest import ingest

    start = time.perf_counter()
    ds = ingest(path, config, out, overwrite=True, threads=threads)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "events_read": ds.stats["events_read"],
        "events_kept": ds.stats["events_kept"],
    }


def run_pandas(path: Path, config: dict[str, Any], out: Path) -> dict[str, Any]:
    """The same steps with pandas, written the way one would by hand."""
    import numpy as np
    import pandas as pd

    start = time.perf_counter()
    src = config["sources"][0]
    names = src.get("columns")
    df = pd.read_csv(path, header=None if names else "infer", names=names)
    n_read = len(df)
    action_col = src["action"]["column"]
    df = pd.DataFrame(
        {
            "user_id": df[src["user_id"]],
            "ts": df[src["time"]["column"]].astype("int64") * 1000,
            "action": df[action_col].map(ACTIONS),
            "action_raw": df[action_col],
            "item_id": df[src["item_id"]],
            "category": df[src["category"]],
            "dwell_s": df[src["dwell_s"]] if "dwell_s" in src else np.nan,
        }
    )
    df["input_order"] = np.arange(len(df))
    df = df[df["action"].notna()]
    df = df[~(df["action"].isin(MISCLICK) & (df["dwell_s"] < MIN_DWELL_S))]
    df = df.sort_values(["user_id", "ts", "input_order"], kind="stable")
    df = df[~df.duplicated(["user_id", "item_id", "action", "ts"])]
    df["gap_s"] = df.groupby("user_id")["ts"].diff() / 1000.0
    new_session = df["gap_s"].isna() | (df["gap_s"] > SESSION_GAP_S)
    df["session_index"] = new_session.astype(int).groupby(df["user_id"]).cumsum() - 1
    from_end = df.groupby("user_id").cumcount(ascending=False)
    length = df.groupby("user_id")["ts"].transform("size")
    df["split"] = np.where(
        (length >= 3) & (from_end == 0), 2, np.where((length >= 3) & (from_end == 1), 1, 0)
    )

    def vocab(column: str) -> pd.Series:
        counts = df[column].value_counts()
        order = counts.reset_index().sort_values(["count", column], ascending=[False, True])
        return pd.Series(np.arange(1, len(order) + 1), index=order[column].to_numpy())

    out.mkdir(parents=True, exist_ok=True)
    arrays = out / "sequences"
    arrays.mkdir(exist_ok=True)
    users = np.sort(df["user_id"].unique())
    offsets = np.concatenate([[0], np.cumsum(df.groupby("user_id").size().reindex(users).to_numpy())])
    np.save(arrays / "offsets.npy", offsets)
    np.save(arrays / "item.npy", df["item_id"].map(vocab("item_id")).to_numpy(np.int32))
    np.save(arrays / "category.npy", df["category"].map(vocab("category")).to_numpy(np.int32))
    np.save(arrays / "action.npy", df["action"].map(vocab("action")).to_numpy(np.int16))
    np.save(arrays / "ts.npy", df["ts"].to_numpy(np.int64))
    np.save(arrays / "gap_s.npy", df["gap_s"].to_numpy(np.float32))
    np.save(arrays / "session.npy", df["session_index"].to_numpy(np.int32))
    np.save(arrays / "split.npy", df["split"].to_numpy(np.int8))
    df.to_parquet(out / "events.parquet", index=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "events_read": n_read, "events_kept": len(df)}


def worker(args: argparse.Namespace) -> None:
    path = Path(args.input)
    config = json.loads(args.config)
    out = Path(args.out)
    if args.worker == "seqintent":
        result = run_seqintent(path, config, out, args.threads)
    else:
        result = run_pandas(path, config, out)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def measure(engine: str, path: Path, config: dict[str, Any], threads: int) -> dict[str, Any]:
    out = OUT / f"ds-{engine}-{path.stem}"
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        engine,
        "--input",
        str(path),
        "--config",
        json.dumps(config),
        "--out",
        str(out),
        "--threads",
        str(threads),
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}
    )
    if done.returncode != 0:
        return {
            "error": done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit {done.returncode}"
        }
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["events_per_s"] = round(result["events_read"] / result["seconds"])
    result["seconds"] = round(result["seconds"], 3)
    return result


def compare(path: Path, config: dict[str, Any], threads: int, skip_pandas: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"input": str(path), "bytes": path.stat().st_size}
    row["seqintent"] = measure("seqintent", path, config, threads)
    if not skip_pandas:
        row["pandas"] = measure("pandas", path, config, threads)
        if "seconds" in row["pandas"] and "seconds" in row["seqintent"]:
            row["speedup_vs_pandas"] = round(row["pandas"]["seconds"] / row["seqintent"]["seconds"], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the simulated log")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--only", choices=["taobao", "simulated"])
    parser.add_argument("--worker", choices=["seqintent", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    import duckdb

    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "threads": args.threads,
    }
    if args.only in (None, "taobao") and TAOBAO.exists():
        report["taobao"] = compare(TAOBAO, taobao_config(), args.threads, args.skip_pandas)
    if args.only in (None, "simulated"):
        path, generator = simulated_log(args.events, args.seed)
        report["simulated"] = {
            "generator": generator,
            "events": args.events,
            **compare(path, simulated_config(path), args.threads, args.skip_pandas),
        }
    targets = report.get("simulated", {})
    if "seqintent" in targets and "seconds" in targets["seqintent"]:
        s = targets["seqintent"]
        report["targets_met"] = {
            "events_per_s_ge_1.5M": s["events_per_s"] >= 1_500_000,
            "peak_rss_lt_2GB": s["peak_rss_mb"] < 2048,
            "speedup_ge_10x": targets.get("speedup_vs_pandas", 0) >= 10,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
