"""Runtime: export a trained model to ONNX, and the inference engine that serves it.

``export_runtime(MODEL)`` writes a Runtime folder (ONNX graphs with dynamic batch and length,
fp32 checked against PyTorch, optionally int8, plus vocabularies). :class:`InferenceEngine` loads
only that folder — numpy, pyarrow, pydantic and onnxruntime, no torch — and turns recent events
into a :class:`PredictResult`, batching concurrent requests into one model call.

The export functions and :class:`RuntimeScorer` (the Runtime as an ``evaluate`` scorer) import torch,
so they load on first use.
"""

from __future__ import annotations

from typing import Any

from seqintent.runtime._batcher import MicroBatcher
from seqintent.runtime._folder import (
    PrecisionInfo,
    Runtime,
    RuntimeConfig,
    TokenSpec,
    TruncationSpec,
    resolve_runtime,
    runtime_path_for,
)
from seqintent.runtime._tokens import EncodedHistory, HistoryEncoder, log_bucket, pad_batch
from seqintent.runtime.engine import GraphRow, InferenceEngine
from seqintent.runtime.result import (
    ExplainedEvent,
    Explanation,
    HistoryInfo,
    ItemScore,
    PredictResult,
    Risk,
)

# These need torch (exporting, scoring Datasets with the training-side batching): they load on first use.
_LAZY = {
    "ExplainedNetwork": "export",
    "attention_rollout": "export",
    "explained_network": "export",
    "export_runtime": "export",
    "RuntimeScorer": "scorer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"seqintent.runtime.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'seqintent.runtime' has no attribute {name!r}")


__all__ = [
    "EncodedHistory",
    "ExplainedEvent",
    "ExplainedNetwork",
    "Explanation",
    "GraphRow",
    "HistoryEncoder",
    "HistoryInfo",
    "InferenceEngine",
    "ItemScore",
    "MicroBatcher",
    "PrecisionInfo",
    "PredictResult",
    "Risk",
    "Runtime",
    "RuntimeConfig",
    "RuntimeScorer",
    "TokenSpec",
    "TruncationSpec",
    "attention_rollout",
    "explained_network",
    "export_runtime",
    "log_bucket",
    "pad_batch",
    "resolve_runtime",
    "runtime_path_for",
]
