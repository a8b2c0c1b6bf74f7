"""Lazy imports of optional dependencies, with the exact install command when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from seqintent.errors import MissingDependencyError

# module name → the extra that installs it
_EXTRAS = {
    "lightgbm": "evaluate",
    "sklearn": "evaluate",
    "onnx": "runtime",
    "onnxruntime": "runtime",
    "fastapi": "serve",
    "uvicorn": "serve",
    "redis": "serve",
    "prometheus_client": "serve",
    "httpx": "serve",
    "torch.utils.tensorboard": "tensorboard",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRAS.get(module, "all")
        raise MissingDependencyError(
            f"{module} is needed for {purpose} but is not installed ({exc})",
            fix=f'pip install "seqintent[{extra}]"',
        ) from exc
