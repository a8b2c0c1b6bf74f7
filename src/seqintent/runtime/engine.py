"""The inference engine: a Runtime folder in, predict results out. No torch, no training code.

A request goes: events → token codes (:class:`~seqintent.runtime._tokens.HistoryEncoder`) →
micro-batch (:class:`~seqintent.runtime._batcher.MicroBatcher`) → one ONNX Runtime call for the
batch → per row: top-K items with probabilities, and the events that drove the answer. A history
with nothing the model can infer from (no readable event with a known item) is answered from
popularity without running the model, marked ``cold_start`` and ``source = "popularity"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqintent._compat import require
from seqintent.runtime._batcher import MicroBatcher
from seqintent.runtime._folder import OUTPUT_EXPLANATION, OUTPUT_NEXT_ITEM, Runtime
from seqintent.runtime._tokens import EncodedHistory, HistoryEncoder, pad_batch
from seqintent.runtime.result import ExplainedEvent, Explanation, HistoryInfo, ItemScore, PredictResult
from seqintent.schema.columns import Columns, Vocabularies

EXPLAIN_METHOD = "attention_rollout"


class InferenceEngine:
    """Predict from recent events with an exported Runtime.

    Parameters
    ----------
    runtime:
        A loaded :class:`~seqintent.runtime.Runtime`.
    precision:
        ``"fp32"`` or ``"int8"`` (when exported with ``--int8``).
    threads:
        ONNX Runtime intra-op threads (1 keeps latency steady on a busy 2-core machine).
    max_batch, max_wait_ms:
        Micro-batching: most histories per model call, and how long the first may wait for company.
    explain_events:
        Events listed in an explanation (the heaviest).
    on_batch:
        Called with (batch size, seconds) after each model call (for metrics).

    Examples
    --------
    >>> engine = InferenceEngine.load("models/taobao.runtime")         # doctest: +SKIP
    >>> engine.predict([{"user_id": "1", "ts": 1511544070000, "action": "view", "item_id": "2268318"}], k=10)
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        precision: str = "fp32",
        threads: int = 1,
        max_batch: int = 32,
        max_wait_ms: float = 1.0,
        explain_events: int = 5,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        ort = require("onnxruntime", "the inference engine")
        self.runtime = runtime
        self.precision = precision
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # spinning threads steal the cores the HTTP server and the store need between batches
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(runtime.graph_path(precision)), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.encoder = HistoryEncoder(runtime.config, runtime.vocabs)
        self.items = runtime.vocabs[Vocabularies.ITEMS]
        counts = self.items.counts.astype(np.float64).copy()
        counts[0] = 0.0
        self._popularity = counts / max(counts.sum(), 1.0)
        self._popular_order = np.argsort(-counts, kind="stable")
        self.explain_events = explain_events
        self.batcher: MicroBatcher[EncodedHistory, tuple[np.ndarray, np.ndarray]] = MicroBatcher(
            self.run_graph, max_batch=max_batch, max_wait_s=max_wait_ms / 1000.0, on_batch=on_batch
        )

    @classmethod
    def load(cls, path: str | Path, **options: Any) -> InferenceEngine:
        """Open a Runtime folder and start an engine on it (options as the constructor's)."""
        return cls(Runtime.load(path), **options)

    @property
    def heads(self) -> list[str]:
        return list(self.runtime.config.heads)

    @property
    def max_len(self) -> int:
        return self.runtime.config.truncation.max_len

    # --- the model call --------------------------------------------------------------------------

    def run_graph(self, histories: list[EncodedHistory]) -> list[tuple[np.ndarray, np.ndarray]]:
        """One ONNX call for encoded histories: (logits [n_items], explanation weights [T]) per history."""
        batch = pad_batch(histories, self.inputs)
        logits, weights = self.session.run([OUTPUT_NEXT_ITEM, OUTPUT_EXPLANATION], batch)
        width = weights.shape[1]
        return [(logits[b], weights[b, width - h.length :]) for b, h in enumerate(histories)]

    # --- answers ---------------------------------------------------------------------------------

    def encode(self, events: Sequence[Mapping[str, Any]], at_ms: int | None = None) -> EncodedHistory:
        """The history as the model reads it (events sorted by time, oldest first)."""
        return self.encoder.encode(events, at_ms)

    @staticmethod
    def has_signal(encoded: EncodedHistory) -> bool:
        """Whether the model has something to infer from: an event it reads names an item it knows."""
        return encoded.n_known_items > 0

    def predict(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        user_id: str | None = None,
        k: int = 10,
        at_ms: int | None = None,
        explain: bool = True,
        exclude_items: Iterable[str] = (),
        exclude_seen: bool = False,
    ) -> PredictResult:
        """The predict result for one history (events sorted by time, oldest first).

        Parameters
        ----------
        events:
            Canonical event dicts (``Columns`` names), oldest first.
        user_id:
            Echoed in the result.
        k:
            Next items to return.
        at_ms:
            The moment predicted for (UTC epoch ms); None: unknown.
        explain:
            Add the explanation.
        exclude_items:
            Items never to recommend.
        exclude_seen:
            Leave out items of the history.
        """
        encoded = self.encode(events, at_ms)
        if not self.has_signal(encoded):
            return self.popularity(events, encoded, user_id=user_id, k=k, exclude_items=exclude_items)
        logits, weights = self.batcher.submit(encoded)
        return self.result(
            events,
            encoded,
            logits,
            weights,
            user_id=user_id,
            k=k,
            at_ms=at_ms,
            explain=explain,
            exclude_items=exclude_items,
            exclude_seen=exclude_seen,
        )

    def result(
        self,
        events: Sequence[Mapping[str, Any]],
        encoded: EncodedHistory,
        logits: np.ndarray,
        weights: np.ndarray,
        *,
        user_id: str | None,
        k: int,
        at_ms: int | None,
        explain: bool,
        exclude_items: Iterable[str] = (),
        exclude_seen: bool = False,
    ) -> PredictResult:
        """Turn one row of graph outputs into the predict result."""
        # probabilities over the whole catalogue, before exclusions: exp(logit - logsumexp)
        peak = float(logits.max())  # column 0 is -inf, every other column finite
        log_total = peak + float(np.log(np.exp(logits - np.float32(peak)).sum(dtype=np.float64)))
        excluded = self._excluded(events if exclude_seen else (), exclude_items)
        top = _top_k(logits, k, excluded)
        items = [
            ItemScore(
                item_id=self.items.values[i], score=float(np.exp(float(logits[i]) - log_total)), rank=r + 1
            )
            for r, i in enumerate(top)
        ]
        return PredictResult(
            user_id=user_id,
            next_items=items,
            explanation=self.explanation(encoded, weights, at_ms) if explain else None,
            cold_start=False,
            source="model",
            history=_info(events, encoded),
        )

    def popularity(
        self,
        events: Sequence[Mapping[str, Any]],
        encoded: EncodedHistory,
        *,
        user_id: str | None,
        k: int,
        exclude_items: Iterable[str] = (),
    ) -> PredictResult:
        """The fallback answer: the most frequent training items (score = their share of events)."""
        excluded = {self.items.index_of(x, 0) for x in exclude_items} - {0}
        top = [int(i) for i in self._popular_order[: k + len(excluded)] if i not in excluded and i > 0][:k]
        items = [
            ItemScore(item_id=self.items.values[i], score=float(self._popularity[i]), rank=r + 1)
            for r, i in enumerate(top)
        ]
        return PredictResult(
            user_id=user_id,
            next_items=items,
            cold_start=True,
            source="popularity",
            history=_info(events, encoded),
        )

    def explanation(self, encoded: EncodedHistory, weights: np.ndarray, at_ms: int | None) -> Explanation:
        """The heaviest events of the roll-out weights, and a sentence naming the top ones."""
        order = np.argsort(-weights, kind="stable")[: self.explain_events]
        listed = []
        for j in order:
            e = encoded.events[j]
            listed.append(
                ExplainedEvent(
                    event_id=_text(e.get(Columns.EVENT_ID)),
                    ts=e.get(Columns.TIME),
                    action=str(e[Columns.ACTION]),
                    item_id=_text(e.get(Columns.ITEM)),
                    category=_text(e.get(Columns.CATEGORY)),
                    weight=round(float(weights[j]), 6),
                )
            )
        other = max(0.0, 1.0 - sum(x.weight for x in listed))
        reference = at_ms if at_ms is not None else encoded.events[-1].get(Columns.TIME)
        return Explanation(
            method=EXPLAIN_METHOD,
            events=listed,
            other_weight=round(other, 6),
            rationale=_rationale(listed, reference),
        )

    def _excluded(self, events: Iterable[Mapping[str, Any]], items: Iterable[str]) -> np.ndarray:
        """Item indices never to recommend: the given items, and those of ``events``."""
        ids = [e.get(Columns.ITEM) for e in events]
        index = self.items.indices_of([x for x in (*ids, *items) if x is not None], default=0)
        return index[index > 0]

    def close(self) -> None:
        self.batcher.close()


def _top_k(logits: np.ndarray, k: int, excluded: np.ndarray) -> list[int]:
    """The k best columns, best first, leaving out column 0 (padding) and ``excluded``."""
    if len(excluded):
        logits = logits.copy()
        logits[excluded] = -np.inf
    k = min(k, len(logits) - 1 - len(np.unique(excluded)))
    if k <= 0:
        return []
    part = np.argpartition(logits, len(logits) - k)[-k:]  # the k largest (column 0 is -inf)
    return [int(i) for i in part[np.argsort(-logits[part], kind="stable")]]


def _info(events: Sequence[Mapping[str, Any]], encoded: EncodedHistory) -> HistoryInfo:
    return HistoryInfo(
        events=len(events), read=encoded.length, ignored=encoded.n_ignored, known_items=encoded.n_known_items
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _ago(ms: int) -> str:
    s = max(ms, 0) / 1000.0
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.0f} {unit} ago"
    return f"{s:.0f} s ago"


def _rationale(events: list[ExplainedEvent], reference: int | None) -> str:
    parts = []
    for e in events[:3]:
        what = f"{e.action} of item {e.item_id}" if e.item_id else e.action
        when = f", {_ago(reference - e.ts)}" if reference is not None and e.ts is not None else ""
        parts.append(f"{what} ({e.weight:.0%}{when})")
    return "Driven most by " + "; ".join(parts) + "." if parts else "No event to explain."
