"""How fast does the simulator write a big log? (The ingest benchmark reads a simulated 10M-event CSV.)

    python bench/simulate_speed.py [--users 250000] [--format csv] [--out-dir DIR] [--keep]

250,000 ecommerce users give about 10.1M events. Prints one JSON object: events, seconds (total,
and generating vs writing), events per second, CPU seconds of the process (user + system: on a
shared machine, the better guide to wall time on an idle one), log size and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from seqintent.simulate import generate, truth_path
from seqintent.simulate._write import write_log, write_truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="ecommerce")
    parser.add_argument("--users", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl", "parquet"])
    parser.add_argument("--out-dir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()

    folder = args.out_dir or Path(tempfile.mkdtemp(prefix="simulate-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{args.scenario}.{args.format}"
    began = time.perf_counter()
    sim = generate(args.scenario, args.users, args.seed)
    generated = time.perf_counter()
    write_log(sim.log, out, args.format)
    logged = time.perf_counter()
    write_truth(truth_path(out), sim.truth, {**sim.meta, "log": out.name, "log_format": args.format})
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "scenario": args.scenario,
        "users": args.users,
        "format": args.format,
        "events": sim.counts["events"],
        "seconds": round(done - began, 2),
        "generate_s": round(generated - began, 2),
        "write_log_s": round(logged - generated, 2),
        "write_truth_s": round(done - logged, 2),
        "events_per_s": round(sim.counts["events"] / (done - began)),
        "log_mb": round(out.stat().st_size / 2**20, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }
    if args.keep:
        result["log"] = str(out)
    else:
        shutil.rmtree(folder) if args.out_dir is None else (out.unlink(), shutil.rmtree(truth_path(out)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
