"""Ingest speed and memory: seqintent (DuckDB) beside a straightforward pandas implementation.

Runs each engine in its own subprocess (so peak RSS is that engine's alone) on
(a) the Taobao UserBehavior sample from the shared data folder and
(b) a simulated e-commerce log of N events (default 10M), and prints one JSON object.

Usage::

    python bench/ingest.py                       # both inputs, N = 10M, 2 DuckDB threads
    python bench/ingest.py --events 1000000 --skip-pandas

The simulated log is ``seqintent simulate --scenario ecommerce --events N --seed S`` (cached
under bench/out/), ingested with the ``simulator`` preset. Times exclude library imports for both
engines (each worker warms up its libraries first); ``cpu_s`` is the process's CPU time, the
better guide on a shared machine.
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
ACTIONS.update({"review": "review", "search": "search", "play": "view", "balance": "query_balance"})
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
    """The columns named in the issue (user_id, ts, action, item_id, category, dwell_s) of the ecommerce log.

    The ``simulator`` preset maps more (device, session_id, text, attrs, and an item expression
    that also covers finance payees); ``--full-preset`` benchmarks it instead.
    """
    return {
        "name": "simulated-bench",
        "sources": [
            {
                "path": path.name,
                "user_id": "user_id",
                "item_id": "item_id",
                "category": "category",
                "dwell_s": "dwell_s",
                "time": {"column": "ts", "unit": "ms"},
                "action": {"column": "action", "map": {"pv": "view"}},
            }
        ],
    }


def preset_config(path: Path) -> dict[str, Any]:
    from seqintent.schema import load_preset

    config = load_preset("simulator").to_dict()
    config["sources"][0]["path"] = path.name
    return config


# What the pandas reference reads from each input: its columns and how raw values become canonical.
PANDAS_TAOBAO = {
    "names": ["user_id", "item_id", "category_id", "behavior", "ts"],
    "user": "user_id",
    "item": "item_id",
    "category": "category_id",
    "action": "behavior",
    "ts": "ts",
    "ts_to_ms": 1000,
    "dwell": None,
    "session": None,
    "carry": [],
}
PANDAS_SIMULATED = {
    "names": None,
    "user": "user_id",
    "item": "item_id",
    "category": "category",
    "action": "action",
    "ts": "ts",
    "ts_to_ms": 1,
    "dwell": "dwell_s",
    "session": None,
    "carry": [],
}
PANDAS_PRESET = {
    **PANDAS_SIMULATED,
    "session": "session_id",
    "carry": ["amount", "device", "text", "payee", "location"],
}


# --- the simulated log ------------------------------------------------------------------------------


def simulated_log(n_events: int, seed: int) -> tuple[Path, str]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"simulated-ecommerce-{n_events}-{seed}.csv"
    command = [
        "seqintent",
        "simulate",
        "--scenario",
        "ecommerce",
        "--events",
        str(n_events),
        "--seed",
        str(seed),
        "-o",
        str(path),
    ]
    if not path.exists():
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        executable = str(Path(sys.executable).parent / "seqintent")
        subprocess.run([executable, *command[1:]], check=True, env=env, capture_output=True)
    return path, " ".join(command)


# --- workers (each runs in its own process) -----------------------------------------------------------


def run_seqintent(path: Path, config: dict[str, Any], out: Path, threads: int) -> dict[str, Any]:
    import pyarrow as pa

    from seqintent.ingest import ingest

    pa.array([0])  # warm up: pyarrow imports pandas on first use; the pandas worker imports it untimed too
    start = time.perf_counter()
    ds = ingest(path, config, out, overwrite=True, threads=threads)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "events_read": ds.stats["events_read"],
        "events_kept": ds.stats["events_kept"],
    }


def run_pandas(path: Path, spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """The same steps with pandas, written the way one would by hand."""
    import numpy as np
    import pandas as pd

    start = time.perf_counter()
    names = spec["names"]
    raw = pd.read_csv(path, header=None if names else "infer", names=names)
    n_read = len(raw)
    df = pd.DataFrame(
        {
            "user_id": raw[spec["user"]],
            "ts": raw[spec["ts"]].astype("int64") * spec["ts_to_ms"],
            "action": raw[spec["action"]].map(ACTIONS),
            "action_raw": raw[spec["action"]],
            "item_id": raw[spec["item"]],
            "category": raw[spec["category"]],
            "dwell_s": raw[spec["dwell"]] if spec["dwell"] else np.nan,
            "session_id": raw[spec["session"]] if spec["session"] else np.nan,
            **{c: raw[c] for c in spec["carry"]},
            "input_order": np.arange(n_read),
        }
    )
    del raw
    df = df[df["action"].notna()]
    df = df[~(df["action"].isin(MISCLICK) & (df["dwell_s"] < MIN_DWELL_S))]
    df = df.sort_values(["user_id", "ts", "input_order"], kind="stable")
    df = df[~df.duplicated(["user_id", "item_id", "action", "ts"])]
    by_user = df.groupby("user_id", sort=False)
    df["gap_s"] = by_user["ts"].diff() / 1000.0
    if spec["session"]:
        new_session = by_user["session_id"].shift().ne(df["session_id"])
    else:
        new_session = df["gap_s"].isna() | (df["gap_s"] > SESSION_GAP_S)
    df["session_index"] = new_session.astype(int).groupby(df["user_id"], sort=False).cumsum() - 1
    from_end = by_user.cumcount(ascending=False)
    length = by_user["ts"].transform("size")
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
    sizes = df.groupby("user_id").size()
    np.save(arrays / "offsets.npy", np.concatenate([[0], np.cumsum(sizes.to_numpy())]))
    np.save(arrays / "item.npy", df["item_id"].map(vocab("item_id")).fillna(0).to_numpy(np.int32))
    np.save(arrays / "category.npy", df["category"].map(vocab("category")).fillna(0).to_numpy(np.int32))
    np.save(arrays / "action.npy", df["action"].map(vocab("action")).to_numpy(np.int16))
    np.save(arrays / "ts.npy", df["ts"].to_numpy(np.int64))
    np.save(arrays / "gap_s.npy", df["gap_s"].to_numpy(np.float32))
    np.save(arrays / "dwell_s.npy", df["dwell_s"].to_numpy(np.float32))
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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)  # whole process, imports included
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
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
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


def compare(
    path: Path, config: dict[str, Any], spec: dict[str, Any], threads: int, skip_pandas: bool
) -> dict[str, Any]:
    row: dict[str, Any] = {"input": str(path), "bytes": path.stat().st_size}
    row["seqintent"] = measure("seqintent", path, config, threads)
    if not skip_pandas:
        row["pandas"] = measure("pandas", path, spec, threads)
        if "seconds" in row["pandas"] and "seconds" in row["seqintent"]:
            row["speedup_vs_pandas"] = round(row["pandas"]["seconds"] / row["seqintent"]["seconds"], 2)
            row["cpu_ratio_vs_pandas"] = round(row["pandas"]["cpu_s"] / row["seqintent"]["cpu_s"], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the simulated log")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--only", choices=["taobao", "simulated"])
    parser.add_argument(
        "--full-preset", action="store_true", help="read the simulated log with the simulator preset"
    )
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
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if args.only in (None, "taobao") and TAOBAO.exists():
        report["taobao"] = compare(TAOBAO, taobao_config(), PANDAS_TAOBAO, args.threads, args.skip_pandas)
    if args.only in (None, "simulated"):
        path, generator = simulated_log(args.events, args.seed)
        report["simulated"] = {
            "generator": generator,
            "config": "simulator preset"
            if args.full_preset
            else "user_id, ts, action, item_id, category, dwell_s",
            **compare(
                path,
                preset_config(path) if args.full_preset else simulated_config(path),
                PANDAS_PRESET if args.full_preset else PANDAS_SIMULATED,
                args.threads,
                args.skip_pandas,
            ),
        }
    targets = report.get("simulated", {})
    if "seqintent" in targets and "seconds" in targets["seqintent"]:
        s = targets["seqintent"]
        report["targets_met"] = {
            "events_per_s_ge_1.5M": s["events_per_s"] >= 1_500_000,
            "peak_rss_lt_2GB": s["peak_rss_mb"] < 2048,
            "speedup_ge_10x": targets.get("speedup_vs_pandas", 0) >= 10,
        }
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
