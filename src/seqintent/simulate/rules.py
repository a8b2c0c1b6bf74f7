"""Rules written from a scenario's construction, which read order: what a sequence model can reach.

For tests and benchmarks that check a planted signal needs order (bags of events stay near chance,
the rule does not). They read the clean log as a pandas DataFrame, rows in time order per user.
"""

from __future__ import annotations

import pandas as pd

FAST_SKIP_S = 3.0  # the content scenario's fast skips stay under this dwell


def content_pair_order(log: pd.DataFrame) -> pd.Series:
    """Per session of a content log: liked-then-skipped pairs minus skipped-then-liked pairs
    (neighbouring plays of one theme, the skip under 3 s, the liked play followed by a ``like``);
    above 0 reads as churn (:mod:`seqintent.simulate.content`)."""
    liked = log["action"].shift(-1).eq("like") & log["session_id"].eq(log["session_id"].shift(-1))
    plays = log[log["action"] == "play"].assign(liked=liked)
    by = plays.groupby("session_id")
    nxt, prev = by[["dwell_s", "category"]].shift(-1), by[["dwell_s", "category"]].shift(1)
    same_after = (nxt["dwell_s"] < FAST_SKIP_S) & (nxt["category"] == plays["category"])
    same_before = (prev["dwell_s"] < FAST_SKIP_S) & (prev["category"] == plays["category"])
    score = (plays["liked"] & same_after).astype(int) - (plays["liked"] & same_before).astype(int)
    return score.groupby(plays["session_id"]).sum()
