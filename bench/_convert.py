"""Throwaway: write Datasets from the shared files until `seqintent ingest --preset` lands on main.

python bench/_convert.py s3rec Beauty OUT | taobao OUT | ml100k OUT | gcegnn Tmall OUT
"""

from __future__ import annotations

# ruff: noqa: SIM115, RUF005
import csv
import gzip
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from dataset_builders import build_dataset

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def s3rec(name: str, out: str) -> None:
    users, items = [], []
    for line in open(DATA / "seqrec-benchmarks-s3rec" / f"{name}.txt"):
        p = line.split()
        users += [p[0]] * (len(p) - 1)
        items += p[1:]
    print(build_dataset(out, user=users, item=items, name=f"s3rec-{name.lower()}"))


def taobao(out: str, kcore: int | str = 5) -> None:
    kcore = int(kcore)
    lo, hi = 1511539200, 1512316800
    rows, seen = [], set()
    for u, i, c, b, t in csv.reader(open(DATA / "taobao-userbehavior-sample" / "UserBehavior.csv")):
        t = int(t)
        if not (lo <= t < hi) or (u, i, t) in seen:
            continue
        seen.add((u, i, t))
        rows.append((u, i, c, b, t))
    while kcore > 1:
        from collections import Counter

        uc, ic = Counter(r[0] for r in rows), Counter(r[1] for r in rows)
        keep = [r for r in rows if uc[r[0]] >= kcore and ic[r[1]] >= kcore]
        if len(keep) == len(rows):
            break
        rows = keep
    # same order as the RecBole converter: by user (numeric), then time, ties in file order
    rows.sort(key=lambda r: (int(r[0]), r[4]))
    amap = {"pv": "view", "cart": "cart", "fav": "fav", "buy": "buy"}
    u, i, c, b, t = zip(*rows, strict=True)
    print(
        build_dataset(
            out,
            user=u,
            item=i,
            category=c,
            action=[amap[x] for x in b],
            ts_ms=np.array(t, np.int64) * 1000,
            name=f"taobao-sample-{kcore}core",
            timezone="Asia/Shanghai",
        )
    )


def ml100k(out: str) -> None:
    rows = [line.split("\t") for line in open(DATA / "movielens-100k" / "u.data")]
    rows = [(int(u), i, int(t)) for u, i, _r, t in rows]
    rows.sort(key=lambda r: (r[0], r[2]))  # stable: ties in file order
    u, i, t = zip(*rows, strict=True)
    print(
        build_dataset(
            out,
            user=[str(x) for x in u],
            item=i,
            action=["rate"] * len(u),
            ts_ms=np.array(t, np.int64) * 1000,
            name="movielens-100k",
        )
    )


def gcegnn(name: str, out: str) -> None:
    folder = DATA / "session-rec-benchmarks-gcegnn" / name
    users, items, split = [], [], []
    for k, line in enumerate(gzip.open(folder / "train_sessions.txt.gz", "rt")):
        p = line.split()
        users += [f"tr{k}"] * len(p)
        items += p
        split += ["train"] * len(p)
    # test lines: all prefixes of each session, longest first; rebuild each session from its longest prefix
    sessions, prev = [], None
    for line in gzip.open(folder / "test_prefix_label.tsv.gz", "rt"):
        prefix, label = line.rstrip("\n").split("\t")
        seq = prefix.split() + [label]
        if prev is not None and len(seq) == len(prev) - 1 and seq == prev[:-1]:
            prev = seq
            continue
        sessions.append(seq)
        prev = seq
    for k, seq in enumerate(sessions):
        users += [f"te{k}"] * len(seq)
        items += seq
        split += ["test"] * len(seq)
    print(len(sessions), "test sessions", sum(len(s) - 1 for s in sessions), "test examples")
    print(build_dataset(out, user=users, item=items, split=split, name=f"gcegnn-{name.lower()}"))


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    {"s3rec": s3rec, "taobao": taobao, "ml100k": ml100k, "gcegnn": gcegnn}[kind](*args)
