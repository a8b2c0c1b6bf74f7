"""Fitting calibration maps on validation cuts: temperature scaling or isotonic regression.

``fit_calibration(logits, y, method)`` returns a JSON-able map (applied by
:func:`seqintent.models.calibration.calibrated_probabilities`). With ``"auto"`` both are fitted on
one half of the validation examples and scored (log-loss) on the other half, in both directions;
the better method is refitted on all of them. Isotonic regression needs more data than one
temperature, so small validation sets usually pick temperature.

>>> rng = np.random.default_rng(0)
>>> z = rng.normal(size=4000); y = (rng.random(4000) < 1 / (1 + np.exp(-z / 3))).astype(float)
>>> fit_calibration(3 * z, y, "temperature")["temperature"] > 5
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from seqintent._compat import require
from seqintent.models.calibration import calibrated_probabilities
from seqintent.models.intent_metrics import log_loss

MIN_ISOTONIC = 200  # fewer validation examples than this: temperature only


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The temperature T > 0 minimising the log-loss of ``sigmoid(z / T)`` (or ``softmax``)."""

    def loss(log_t: float) -> float:
        return log_loss(
            y, calibrated_probabilities(logits, {"method": "temperature", "temperature": np.exp(log_t)})
        )

    best = minimize_scalar(loss, bounds=(np.log(0.05), np.log(50.0)), method="bounded")
    return {"method": "temperature", "temperature": round(float(np.exp(best.x)), 6)}


def fit_isotonic(logits: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """A non-decreasing map from logit to probability (yes/no labels)."""
    isotonic = require("sklearn.isotonic", "isotonic calibration")
    model = isotonic.IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4, out_of_bounds="clip")
    model.fit(np.asarray(logits, np.float64), np.asarray(y, np.float64))
    return {
        "method": "isotonic",
        "x": [round(float(v), 6) for v in model.X_thresholds_],
        "y": [round(float(v), 6) for v in model.y_thresholds_],
    }


def fit_calibration(logits: np.ndarray, y: np.ndarray, method: str, seed: int = 0) -> dict[str, Any]:
    """Fit a calibration map of ``method`` ("auto", "temperature", "isotonic" or "none")."""
    logits = np.asarray(logits, np.float64)
    multi = logits.ndim == 2
    if method == "none" or len(y) == 0:
        return {"method": "none"}
    if method == "temperature" or multi:
        return fit_temperature(logits, y)
    if method == "isotonic":
        return fit_isotonic(logits, y)
    if len(y) < MIN_ISOTONIC:
        return fit_temperature(logits, y)
    half = np.random.default_rng(seed).permutation(len(y)) < len(y) // 2
    scores = {"temperature": 0.0, "isotonic": 0.0}
    for fit_part in (half, ~half):
        for name, fitter in (("temperature", fit_temperature), ("isotonic", fit_isotonic)):
            params = fitter(logits[fit_part], y[fit_part])
            scores[name] += log_loss(y[~fit_part], calibrated_probabilities(logits[~fit_part], params))
    best = min(scores, key=scores.__getitem__)
    params = fit_temperature(logits, y) if best == "temperature" else fit_isotonic(logits, y)
    return params


def cross_fitted_probabilities(logits: np.ndarray, y: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """Calibrated probabilities of each example from a map fitted on the *other* half of the examples.

    An honest "after" for a report on the same validation examples (an isotonic map scores its own
    fitting data almost perfectly).
    """
    logits = np.asarray(logits, np.float64)
    out = np.empty(logits.shape, dtype=np.float64)
    half = np.random.default_rng(seed).permutation(len(y)) < len(y) // 2
    for fit_part in (half, ~half):
        params = fit_calibration(logits[fit_part], y[fit_part], method, seed=seed)
        out[~fit_part] = calibrated_probabilities(logits[~fit_part], params)
    return out
