"""Small trained models and their exported Runtime folders, each built once per test session.

``exported`` runs a test on every model variant (plain; time bias + repeat head + neighbour prior +
importance truncation); ``exported_plain`` on the plain one only, for tests whose subject is not the
variant.
"""

from __future__ import annotations

import pytest

from tests.runtime_builders import VARIANTS, Exported, exported_model


@pytest.fixture(scope="session", params=sorted(VARIANTS))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    pytest.importorskip("onnxruntime")
    return exported_model(request.param, tmp_path_factory.mktemp)


@pytest.fixture(scope="session")
def exported_plain(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    pytest.importorskip("onnxruntime")
    return exported_model("plain", tmp_path_factory.mktemp)
