"""Small trained models and their exported Runtime folders, each built once per test session.

``exported`` runs a test on every model variant (plain; time bias + repeat head + importance
truncation); ``exported_plain`` on the plain one only, for tests whose subject is not the variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from runtime_builders import VARIANTS, trained_model

from seqintent.data import Dataset

_BUILT: dict[str, Exported] = {}


@dataclass
class Exported:
    dataset: Dataset
    events: list[dict[str, Any]]
    model: Path
    runtime: Path


def _build(variant: str, factory: pytest.TempPathFactory) -> Exported:
    pytest.importorskip("onnxruntime")
    if variant not in _BUILT:
        from seqintent.runtime import export_runtime

        ds, events, model = trained_model(factory.mktemp(f"runtime-{variant}"), variant)
        _BUILT[variant] = Exported(ds, events, model, export_runtime(model, int8=True))
    return _BUILT[variant]


@pytest.fixture(scope="session", params=sorted(VARIANTS))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    return _build(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def exported_plain(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    return _build("plain", tmp_path_factory)
