"""Applying fitted calibration maps to head logits (fitting lives in :mod:`seqintent.train.calibration`).

A calibration map is plain JSON-able data, stored in the Model folder:

- ``{"method": "none"}``: the sigmoid / softmax of the logits;
- ``{"method": "temperature", "temperature": T}``: ``sigmoid(z / T)`` or ``softmax(z / T)``
  (Guo et al., ICML 2017);
- ``{"method": "isotonic", "x": [...], "y": [...]}``: a non-decreasing step map from the logit to
  the probability, linear between the knots and flat outside (Zadrozny & Elkan, KDD 2002) —
  yes/no labels only.

>>> import numpy as np
>>> z = np.array([0.0, 2.0])
>>> calibrated_probabilities(z, {"method": "temperature", "temperature": 2.0}).round(3).tolist()
[0.5, 0.731]
>>> iso = {"method": "isotonic", "x": [0, 1], "y": [0.1, 0.3]}
>>> calibrated_probabilities(np.array([-5.0, 0.5, 9.0]), iso).tolist()
[0.1, 0.2, 0.3]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqintent.errors import ArtifactError

METHODS = ("none", "temperature", "isotonic")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def calibrated_probabilities(logits: np.ndarray, params: dict[str, Any] | None) -> np.ndarray:
    """Probabilities from logits: yes/no labels for 1-d ``logits``, classes for 2-d ``[N, C]``.

    Raises
    ------
    ArtifactError
        If ``params`` names an unknown method, or isotonic for classes.
    """
    params = params or {"method": "none"}
    method = params.get("method")
    z = np.asarray(logits, dtype=np.float64)
    multi = z.ndim == 2
    if method == "none":
        return softmax(z) if multi else sigmoid(z)
    if method == "temperature":
        t = float(params["temperature"])
        return softmax(z / t) if multi else sigmoid(z / t)
    if method == "isotonic" and not multi:
        return np.interp(z, np.asarray(params["x"], np.float64), np.asarray(params["y"], np.float64))
    raise ArtifactError(
        f"unknown calibration {method!r} for {'classes' if multi else 'a yes/no label'}",
        fix=f"expected one of {list(METHODS)} (isotonic for yes/no labels only); re-train the model",
    )
