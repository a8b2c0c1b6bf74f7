"""Metric summaries with 95% bootstrap intervals.

A ranking metric per example takes few distinct values (HR: 0 or 1; NDCG@K and MRR@K: K + 1
values), so resampling the examples with replacement is the same as drawing the counts of those
values from a multinomial — exact, and a thousand resamples of a million examples cost nothing.

>>> values = np.array([1.0, 0.0, 0.0, 1.0])
>>> lo, hi = bootstrap_interval(values, resamples=2000, seed=0)
>>> 0.0 <= lo < 0.5 < hi <= 1.0
True
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95


def bootstrap_interval(
    values: np.ndarray, *, resamples: int = 1000, seed: int = 0, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (examples resampled with replacement)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    distinct, counts = np.unique(values, return_counts=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(values), counts / len(values), size=resamples)  # [R, distinct]
    means = draws @ distinct / len(values)
    tail = (1.0 - confidence) / 2.0
    return (float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail)))


def summarize(
    per_example: dict[str, np.ndarray], *, resamples: int = 1000, seed: int = 0
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Means and 95% bootstrap intervals of per-example metrics (no intervals when ``resamples`` is 0)."""
    means = {k: round(float(np.mean(v)), 5) if len(v) else float("nan") for k, v in per_example.items()}
    intervals = {}
    if resamples > 0:
        for k, v in per_example.items():
            lo, hi = bootstrap_interval(v, resamples=resamples, seed=seed)
            intervals[k] = [round(lo, 5), round(hi, 5)]
    return means, intervals
