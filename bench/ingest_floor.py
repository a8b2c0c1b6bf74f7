"""What the ingest targets leave room for: the unavoidable steps alone, beside the pandas reference.

Issue 2 asks, for the simulated 10M-event CSV on 2 cores, >= 1.5M events/s (a budget of about 6.7 s
for 10M events) and >= 10x the pandas reference of ``bench/ingest.py``. Any ingest has to parse the
CSV and write the Dataset's ``events.parquet``; this script times those two steps alone, each with
the fastest engine installed here, and the sort every per-user ordering needs, in one run beside
the pandas reference, and prints one JSON object:

    python bench/ingest_floor.py             # the simulated 10M-event log of bench/ingest.py, 2 threads
    python bench/ingest_floor.py --repeats 5
    pip install --target /tmp/polars polars && python bench/ingest_floor.py --polars /tmp/polars

- parse: the issue's six columns of the CSV into memory (columnar), by DuckDB (``read_csv`` into a
  table, what seqintent runs), pyarrow (``pyarrow.csv``, multithreaded) and pandas (``read_csv``);
- write: the ``events.parquet`` seqintent writes for this log (read back into memory first, so
  only the write is timed), by DuckDB ``COPY`` (snappy, as seqintent writes it) and by
  ``pyarrow.parquet`` with neither compression nor dictionary encoding (the cheapest Parquet
  measured here: larger files, but a floor should be generous);
- sort: one ``np.sort`` of 10M packed uint64 keys (how seqintent orders events);
- with ``--polars DIR``, Polars' ``read_csv`` and ``write_parquet`` (uncompressed) too.

Every step runs in its own subprocess, ``--repeats`` times; the fastest run counts (a floor). The
floor of an ingest is the fastest parse + the fastest write + the sort: nothing else an ingest does
(mapping, cleaning, sessions, splits, vocabularies, sequence arrays) is counted, so the real
figure can only be higher.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ingest import (  # noqa: E402
    OUT,
    PANDAS_SIMULATED,
    measure,
    simulated_config,
    simulated_log,
)

COLUMNS = ["user_id", "ts", "action", "item_id", "category", "dwell_s"]
STEPS = ("parse_duckdb", "parse_pyarrow", "parse_pandas", "write_duckdb", "write_pyarrow_plain", "sort_numpy")
POLARS_STEPS = ("parse_polars", "write_polars")


def _step(name: str, csv: Path, parquet: Path, threads: int) -> float:
    """Seconds of one step, libraries imported and inputs in memory before the clock starts."""
    if name == "parse_duckdb":
        import duckdb

        con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})
        cols = ", ".join(COLUMNS)
        start = time.perf_counter()
        con.execute(f"CREATE TABLE ev AS SELECT {cols} FROM read_csv('{csv}')")
        return time.perf_counter() - start
    if name == "parse_pyarrow":
        import pyarrow as pa
        import pyarrow.csv as pcsv

        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)
        start = time.perf_counter()
        table = pcsv.read_csv(csv, convert_options=pcsv.ConvertOptions(include_columns=COLUMNS))
        seconds = time.perf_counter() - start
        assert table.num_rows > 0
        return seconds
    if name == "parse_polars":
        import polars as pl

        start = time.perf_counter()
        frame = pl.read_csv(csv, columns=COLUMNS)
        seconds = time.perf_counter() - start
        assert frame.height > 0
        return seconds
    if name == "write_polars":
        import polars as pl

        frame = pl.read_parquet(parquet)
        start = time.perf_counter()
        frame.write_parquet(OUT / "floor-events.parquet", compression="uncompressed")
        return time.perf_counter() - start
    if name == "parse_pandas":
        import pandas as pd

        start = time.perf_counter()
        frame = pd.read_csv(csv, usecols=COLUMNS)
        seconds = time.perf_counter() - start
        assert len(frame) > 0
        return seconds
    if name in ("write_duckdb", "write_pyarrow_plain"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pa.set_cpu_count(threads)
        table = pq.read_table(parquet)
        target = OUT / "floor-events.parquet"
        if name == "write_duckdb":
            import duckdb

            con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})
            con.register("events", table)
            start = time.perf_counter()
            con.execute(f"COPY (SELECT * FROM events) TO '{target}' (FORMAT parquet, COMPRESSION snappy)")
            return time.perf_counter() - start
        start = time.perf_counter()
        pq.write_table(table, target, compression="none", use_dictionary=False)
        return time.perf_counter() - start
    import numpy as np

    keys = np.random.default_rng(0).integers(0, 2**63, size=10_000_000, dtype=np.uint64)
    start = time.perf_counter()
    np.sort(keys)
    return time.perf_counter() - start


def _run_step(name: str, csv: Path, parquet: Path, threads: int, polars: str | None) -> float:
    cmd = [sys.executable, __file__, "--step", name, "--csv", str(csv), "--parquet", str(parquet)]
    cmd += ["--threads", str(threads)]
    path = [str(ROOT / "src"), *([polars] if polars else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "POLARS_MAX_THREADS": str(threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the simulated log")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--polars",
        metavar="DIR",
        help="also time Polars, installed apart (pip install --target DIR polars): not a dependency",
    )
    parser.add_argument("--step", choices=STEPS + POLARS_STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(_step(args.step, Path(args.csv), Path(args.parquet), args.threads))
        return
    csv, generator = simulated_log(args.events, args.seed)
    report: dict[str, Any] = {
        "input": str(csv),
        "generator": generator,
        "threads": args.threads,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    # the reference and seqintent end to end (seqintent's run also writes the events.parquet timed below)
    report["pandas"] = measure("pandas", csv, PANDAS_SIMULATED, args.threads)
    report["seqintent"] = measure("seqintent", csv, simulated_config(csv), args.threads)
    parquet = OUT / f"ds-seqintent-{csv.stem}" / "events.parquet"
    steps = STEPS + (POLARS_STEPS if args.polars else ())
    runs: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):  # interleaved, so a slow minute of the machine hits every step alike
        for name in steps:
            runs[name].append(round(_run_step(name, csv, parquet, args.threads, args.polars), 3))
    report["runs_s"] = runs
    best = {name: min(times) for name, times in runs.items()}
    parse = min(t for name, t in best.items() if name.startswith("parse_"))
    write = min(t for name, t in best.items() if name.startswith("write_"))
    floor = parse + write + best["sort_numpy"]
    events = report["seqintent"]["events_read"]
    pandas_s = report["pandas"]["seconds"]
    report["floor"] = {
        "parse_s": parse,
        "write_s": write,
        "sort_s": best["sort_numpy"],
        "total_s": round(floor, 3),
        "events_per_s_at_floor": round(events / floor),
        "pandas_over_floor": round(pandas_s / floor, 2),
        "budget_for_1.5M_events_per_s_s": round(events / 1_500_000, 3),
        "budget_for_10x_pandas_s": round(pandas_s / 10, 3),
        # what the floor leaves possible: nothing else of an ingest is counted in it
        "10x_pandas_possible": floor <= pandas_s / 10,
        "1.5M_events_per_s_possible": events / floor >= 1_500_000,
    }
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
