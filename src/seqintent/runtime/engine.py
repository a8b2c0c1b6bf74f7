"""The inference engine: a Runtime folder in, predict results out. No torch, no training code.

A request goes: events → token codes (:class:`~seqintent.runtime._tokens.HistoryEncoder`) →
micro-batch (:class:`~seqintent.runtime._batcher.MicroBatcher`) → one ONNX Runtime call for the
batch → per row: top-K items with probabilities, and the events that drove the answer; with intent
heads, the calibrated next-action distribution and intent probabilities, interests and exclusions
(items of excluded categories are left out of the next items); with an anomaly model, the risk of
the newest session. A history with nothing the model can infer from (no readable event with a known
item) is answered from popularity without running the model, marked ``cold_start`` and
``source = "popularity"`` (interests, exclusions and risk are still read off the history).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from seqintent._compat import require
from seqintent.models.calibration import calibrated_probabilities as calibrated
from seqintent.runtime._answers import Interests, interests_of
from seqintent.runtime._batcher import MicroBatcher
from seqintent.runtime._folder import (
    ANOMALY_DIR,
    ITEM_CATEGORY_FILE,
    Runtime,
)
from seqintent.runtime._tokens import EncodedHistory, HistoryEncoder, pad_batch
from seqintent.runtime.result import (
    ExplainedEvent,
    Explanation,
    HistoryInfo,
    ItemScore,
    PredictResult,
    Risk,
)
from seqintent.schema.columns import Columns, Vocabularies

EXPLAIN_METHOD = "attention_rollout"
REQUEST_USER = "request"  # the user id risk scoring gives a history that came without one


class GraphRow(NamedTuple):
    """One history's graph outputs: next-item logits [n_items], roll-out weights [T], and the intent
    heads' logits by output name (empty without heads)."""

    logits: np.ndarray
    weights: np.ndarray
    heads: dict[str, np.ndarray]


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
    model_thread:
        Run the model calls of async callers on the batcher's thread (True) or on their event loop
        (False: no thread hand-off; see :class:`~seqintent.runtime._batcher.MicroBatcher`).
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
        model_thread: bool = True,
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
        runtime.check_summary_input(self.session, precision)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.encoder = HistoryEncoder(runtime.config, runtime.vocabs)
        self.items = runtime.vocabs[Vocabularies.ITEMS]
        counts = self.items.counts.astype(np.float64).copy()
        counts[0] = 0.0
        self._popularity = counts / max(counts.sum(), 1.0)
        self._popular_order = np.argsort(-counts, kind="stable")
        self.explain_events = explain_events
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.intents = runtime.config.intents
        self.actions = runtime.vocabs[Vocabularies.ACTIONS]
        self._category_of_item: dict[str, str] | None = None
        self._item_category: np.ndarray | None = None
        category_file = runtime.path / ITEM_CATEGORY_FILE
        if self.intents is not None and category_file.is_file():
            self._item_category = np.load(category_file, allow_pickle=False)
            names = runtime.vocabs[Vocabularies.CATEGORIES].values
            self._category_of_item = {
                str(self.items.values[i]): str(names[c])
                for i, c in enumerate(self._item_category.tolist())
                if c > 0 and i > 0
            }
        self.detector = _load_detector(runtime.path / ANOMALY_DIR)
        self.batcher: MicroBatcher[EncodedHistory, GraphRow] = MicroBatcher(
            self.run_graph,
            max_batch=max_batch,
            max_wait_s=max_wait_ms / 1000.0,
            on_batch=on_batch,
            on_loop=not model_thread,
        )

    @classmethod
    def load(cls, path: str | Path, **options: Any) -> InferenceEngine:
        """Open a Runtime folder and start an engine on it (options as the constructor's)."""
        return cls(Runtime.load(path), **options)

    @property
    def heads(self) -> list[str]:
        return list(self.runtime.config.heads)

    @property
    def has_risk(self) -> bool:
        """Whether the Runtime was exported with an anomaly model (risk is answered)."""
        return self.detector is not None

    @property
    def max_len(self) -> int:
        return self.runtime.config.truncation.max_len

    # --- the model call --------------------------------------------------------------------------

    def run_graph(self, histories: list[EncodedHistory]) -> list[GraphRow]:
        """One ONNX call for encoded histories: the graph's outputs, one :class:`GraphRow` per history."""
        batch = pad_batch(histories, self.inputs)
        logits, weights, *heads = self.session.run(self.outputs, batch)
        head_names = self.outputs[2:]
        width = weights.shape[1]
        return [
            GraphRow(
                logits[b],
                weights[b, width - h.length :],
                {name: out[b] for name, out in zip(head_names, heads, strict=True)},
            )
            for b, h in enumerate(histories)
        ]

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
        row = self.batcher.submit(encoded)
        return self.result(
            events,
            encoded,
            row,
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
        row: GraphRow,
        *,
        user_id: str | None,
        k: int,
        at_ms: int | None,
        explain: bool,
        exclude_items: Iterable[str] = (),
        exclude_seen: bool = False,
    ) -> PredictResult:
        """Turn one row of graph outputs into the predict result."""
        logits = row.logits
        # probabilities over the whole catalogue, before exclusions: exp(logit - logsumexp)
        peak = float(logits.max())  # column 0 is -inf, every other column finite
        log_total = peak + float(np.log(np.exp(logits - np.float32(peak)).sum(dtype=np.float64)))
        interests = self.interests(events)
        excluded = self._excluded(events if exclude_seen else (), exclude_items)
        excluded = np.concatenate([excluded, self._rejected_items(interests)])
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
            **self._head_answers(row.heads),
            **_interest_fields(interests),
            risk=self.risk(events, user_id),
            explanation=self.explanation(encoded, row.weights, at_ms) if explain else None,
            cold_start=False,
            source="model",
            history=_info(events, encoded),
        )

    def _head_answers(self, heads: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Calibrated ``next_action`` / ``next_family`` (likeliest first) and ``intents`` from the heads."""
        spec = self.intents
        if spec is None or not heads:
            return {}
        out: dict[str, Any] = {}
        action_logits = heads.get("next_action")
        if action_logits is not None and spec.next_action is not None:
            dist = calibrated(action_logits[None], spec.calibration.get(spec.next_action))[0]
            order = [int(a) for a in np.argsort(-dist, kind="stable") if a > 0 and dist[a] > 0]
            out["next_action"] = {str(self.actions.values[a]): round(float(dist[a]), 6) for a in order}
        family_logits = heads.get("next_family")
        if family_logits is not None and spec.next_family is not None:
            dist = calibrated(family_logits[None], spec.calibration.get(spec.next_family))[0]
            order = [int(f) for f in np.argsort(-dist, kind="stable") if f > 0 and dist[f] > 0]
            families = self.runtime.config.tokens.families  # family code = position + 1
            out["next_family"] = {
                families[f - 1]: round(float(dist[f]), 6) for f in order if f <= len(families)
            }
        intent_logits = heads.get("intents")
        if intent_logits is not None:
            out["intents"] = {
                label.name: round(
                    float(calibrated(intent_logits[j : j + 1], spec.calibration.get(label.name))[0]), 6
                )
                for j, label in enumerate(spec.labels)
            }
        return out

    def interests(self, events: Sequence[Mapping[str, Any]]) -> Interests | None:
        """Interests and exclusions of the history (None: the Model has no intent heads)."""
        if self.intents is None:
            return None
        return interests_of(events, self.intents.interests, self._category_of_item)

    def _rejected_items(self, interests: Interests | None) -> np.ndarray:
        """Item indices of the user's exclusions: the items, or every item of an excluded category."""
        if interests is None or not interests.exclusions:
            return np.zeros(0, dtype=np.int64)
        if interests.by == "item":
            index = self.items.indices_of(interests.exclusions, default=0)
            return index[index > 0]
        if self._item_category is None:
            return np.zeros(0, dtype=np.int64)
        categories = self.runtime.vocabs[Vocabularies.CATEGORIES]
        codes = categories.indices_of(interests.exclusions, default=0)
        return np.flatnonzero(np.isin(self._item_category, codes[codes > 0]))

    def risk(self, events: Sequence[Mapping[str, Any]], user_id: str | None) -> Risk | None:
        """Risk of the history's newest session under the exported anomaly model (None without one)."""
        if self.detector is None or not events:
            return None
        user = user_id if user_id is not None else REQUEST_USER
        results = self.detector.score([{**e, Columns.USER: user} for e in events])
        if not results:
            return None
        newest = max(results, key=lambda r: r.end_ts)
        return Risk(
            score=float(newest.score),
            level=newest.level,
            action=newest.action,
            reasons=[r.text for r in newest.reasons],
            session_events=newest.n_events,
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
        interests = self.interests(events)
        excluded = {self.items.index_of(x, 0) for x in exclude_items} - {0}
        excluded |= set(self._rejected_items(interests).tolist())
        top = [int(i) for i in self._popular_order[: k + len(excluded) + 1] if i not in excluded and i > 0][
            :k
        ]
        items = [
            ItemScore(item_id=self.items.values[i], score=float(self._popularity[i]), rank=r + 1)
            for r, i in enumerate(top)
        ]
        return PredictResult(
            user_id=user_id,
            next_items=items,
            **_interest_fields(interests),
            risk=self.risk(events, user_id),
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


def _load_detector(folder: Path) -> Any:
    """The Runtime's anomaly model, or None when it was exported without one."""
    if not folder.is_dir():
        return None
    from seqintent.anomaly import AnomalyDetector  # only Runtimes that score risk pay for the import

    return AnomalyDetector.load(folder)


def _interest_fields(interests: Interests | None) -> dict[str, Any]:
    if interests is None:
        return {}
    return {"interests": interests.interests, "exclusions": interests.exclusions}


def _top_k(logits: np.ndarray, k: int, excluded: np.ndarray) -> list[int]:
    """The k best columns, best first, leaving out column 0 (padding) and ``excluded``."""
    if len(excluded):
        logits = logits.copy()
        logits[excluded] = -np.inf
    k = min(k, len(logits) - 1 - len(np.unique(excluded)))
    if k <= 0:
        return []
    # Fast path: the k-th largest of a strided sample is at most the k-th largest of all, so every
    # one of the k best is at or above it, and the few columns there are sorted rather than all
    # partitioned. Taken only where none of the k + 1 best tie and there is no NaN: then the answer
    # is unique, whereas argpartition orders ties its own way, which the full path below keeps.
    sample = logits[::16]  # leaves about 16 k columns to sort
    if len(sample) > k and not np.isnan(logits.max()):
        line = np.partition(sample, len(sample) - k)[len(sample) - k]
        above = np.flatnonzero(logits >= line)
        order = above[np.argsort(-logits[above], kind="stable")]
        best = logits[order[: k + 1]]
        if (best[:-1] > best[1:]).all():
            return order[:k].tolist()
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
