"""Small logs with a planted, order-dependent intent (for the intent tests).

``research_log`` mirrors the simulator's ecommerce scenario in miniature. Users browse, and some
sessions research an item X: either the reviews of X come *before* its cart (the user comes back
20 to 36 hours later and buys X) or *after* it (the user never buys). Both kinds have the same
actions, counts, cart position, dwell and gaps, so only the order tells them apart: a model of
counts, recency and time since the last cart cannot, a sequence model can.

Sessions are 40 to 80 hours apart, so "a buy within 40 h" after a research session's last event is
exactly its truth. The truth: one row per research session, the event index of its last event (the
cut), whether the user returns to buy, and the event indices of the reviews (the planted cause).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqintent.data import Dataset
from tests.dataset_builders import build_dataset

T0 = 1_700_000_000_000
HOUR = 3_600_000


@dataclass
class ResearchTruth:
    cut: np.ndarray  # event index (in the Dataset) of each research session's last event
    returns: np.ndarray  # bool: the user comes back and buys the researched item
    causes: list[np.ndarray]  # event indices of the reviews of each research session


def research_log(
    out: str | Path, *, users: int = 300, sessions: int = 8, items: int = 120, seed: int = 0
) -> tuple[Dataset, ResearchTruth]:
    """The log as a Dataset (leave-one-out split) and its truth (see the module docstring)."""
    rng = np.random.default_rng(seed)
    category = rng.integers(0, 8, items)
    rows: list[tuple[str, int, str, int, float]] = []  # user, ts, action, item, dwell
    research: list[tuple[int, bool, list[int]]] = []  # row of the last event, returns, rows of reviews
    for u in range(users):
        t = T0 + int(rng.integers(0, 24 * HOUR))
        for _ in range(sessions):
            kind = rng.choice(["browse", "return", "leave"], p=[0.4, 0.3, 0.3])
            views = [int(v) for v in rng.integers(1, items, 4)]
            if kind == "browse":
                steps = [("view", v) for v in [*views, int(rng.integers(1, items))]]
            else:
                x = int(rng.integers(1, items))
                a, b, c, d = views
                if kind == "return":
                    steps = [("view", a), ("view", x), ("review", x), ("review", x), ("cart", x)]
                    steps += [("view", b), ("view", c), ("view", d)]
                else:
                    steps = [("view", a), ("view", x), ("view", b), ("view", c), ("cart", x)]
                    steps += [("review", x), ("review", x), ("view", d)]
            reviews = []
            for action, item in steps:
                if action == "review":
                    reviews.append(len(rows))
                rows.append((f"u{u}", t, action, item, float(rng.lognormal(3.0, 0.5))))
                t += int(rng.integers(20_000, 120_000))
            if kind != "browse":
                research.append((len(rows) - 1, kind == "return", reviews))
                if kind == "return":
                    back = t + int(rng.integers(20, 36)) * HOUR
                    rows.append((f"u{u}", back, "view", x, float(rng.lognormal(3.0, 0.5))))
                    rows.append((f"u{u}", back + 60_000, "buy", x, float(rng.lognormal(3.0, 0.5))))
                    t = back + 60_000
            t += int(rng.integers(40, 80)) * HOUR  # past the 40 h label horizon of the session before
    user, ts, action, item, dwell = zip(*rows, strict=True)
    ds = build_dataset(
        out,
        user=user,
        item=[f"i{i}" for i in item],
        action=action,
        ts_ms=ts,
        category=[f"c{category[i]}" for i in item],
        dwell_s=dwell,
        name="research",
    )
    # rows are grouped by user already and in time order within a user: row index == event index
    cut = np.array([r[0] for r in research], dtype=np.int64)
    returns = np.array([r[1] for r in research], dtype=bool)
    causes = [np.array(r[2], dtype=np.int64) for r in research]
    return ds, ResearchTruth(cut, returns, causes)


# The intent config the tests train with: the planted label, the next action, and a label the log
# cannot answer (nobody likes anything), which training must drop with its reason.
RESEARCH_INTENTS = {
    "labels": [
        {"name": "next_action", "kind": "next_action"},
        {"name": "buy_40h", "kind": "within", "actions": ["buy"], "horizon": "40h"},
        {"name": "like_1d", "kind": "within", "actions": ["like"], "horizon": "1d"},
    ],
    "train": {
        "mode": "joint",
        "epochs": 10,
        "patience": 3,
        "threads": 1,
        "lr": 5e-3,
        "encoder_lr": 5e-3,
        "next_item_weight": 0.1,
    },
    "protocol": {"test_window": "5d"},
}
