"""Taobao sample with injected anomalies — see ``bench/anomaly.py`` (written next)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run(work: Path, seed: int) -> dict[str, Any]:
    raise NotImplementedError("the Taobao injection benchmark is not written yet")
