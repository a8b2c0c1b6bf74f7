"""Anomaly benchmarks: HDFS log sessions, simulated account takeovers, Taobao with injected anomalies.

Prints one JSON object (``--json``) or a short table::

    python bench/anomaly.py --json                        # every benchmark
    python bench/anomaly.py --json --only hdfs,finance    # some of hdfs, finance, taobao

Each benchmark's protocol is in its module: ``_anomaly_hdfs.py`` (train on normal HDFS sessions
only; DeepLog-style surprise of a next-key Transformer; threshold on a validation part),
``_anomaly_finance.py`` (simulated account takeovers among habitual users and lookalikes;
threshold at 1 % FPR on another simulation), ``_anomaly_taobao.py`` (injected bot bursts and
implausible orders in the Taobao sample, beside an isolation forest on per-session features).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import _anomaly_finance
import _anomaly_hdfs
import _anomaly_taobao

BENCHMARKS = {"hdfs": _anomaly_hdfs.run, "finance": _anomaly_finance.run, "taobao": _anomaly_taobao.run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for intermediate Datasets (default: temp)"
    )
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="seqintent-anomaly-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in names:
            results[name] = BENCHMARKS[name](work / name, args.seed)
            print(f"[{name}] done", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2, default=float))
    else:
        for name, res in results.items():
            figures = "  ".join(f"{k}={v:.4f}" for k, v in res.items() if isinstance(v, float))
            print(f"{name:<8} {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
