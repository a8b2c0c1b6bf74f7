"""An exported Runtime as a :class:`~seqintent.models.Scorer`, so ``evaluate`` ranks with the ONNX graph.

This is how the int8 graph's quality is measured: the same full-catalogue protocol, the same
histories (built by the training code), only the graph differs. It imports the training-side
batching (torch), so it is for evaluation, not for serving.

>>> from seqintent.evaluate.ranking import evaluate_ranking                    # doctest: +SKIP
>>> evaluate_ranking(ds, {"fp32": RuntimeScorer("m.runtime"), "int8": RuntimeScorer("m.runtime", "int8")})
... # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqintent._compat import require
from seqintent.models import HistoryBatch, Scorer, gather_tokens, history_rows
from seqintent.models.history_summary import tokens_summary
from seqintent.runtime._folder import OUTPUT_NEXT_ITEM, SUMMARY_INPUT, Runtime


class RuntimeScorer(Scorer):
    """Next-item logits from a Runtime's ONNX graph (higher is better; column 0 is ``-inf``).

    Parameters
    ----------
    runtime:
        The Runtime folder.
    precision:
        ``"fp32"`` or ``"int8"``.
    threads:
        ONNX Runtime intra-op threads.
    """

    def __init__(self, runtime: str | Path, precision: str = "fp32", *, threads: int = 2) -> None:
        ort = require("onnxruntime", "scoring with a runtime")
        self.runtime = Runtime.load(runtime)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(self.runtime.graph_path(precision)), options, providers=["CPUExecutionProvider"]
        )
        self.runtime.check_summary_input(self.session, precision)
        self.inputs = [i.name for i in self.session.get_inputs()]
        tokens = self.runtime.config.tokens
        rule = self.runtime.config.truncation
        important = set(rule.important_families) if rule.rule == "importance" else set()
        self._important_codes = [i + 1 for i, f in enumerate(tokens.families) if f in important]

    @property
    def n_items(self) -> int:
        return self.runtime.config.tokens.n_items

    def score(self, batch: HistoryBatch, batch_size: int = 256) -> np.ndarray:
        rule = self.runtime.config.truncation
        important = np.isin(batch.tokens.family, self._important_codes) if self._important_codes else None
        out = np.empty((len(batch), self.n_items), dtype=np.float32)
        for lo in range(0, len(batch), batch_size):
            part = batch.take(slice(lo, lo + batch_size))
            rows = history_rows(
                part.starts, part.ends, rule.max_len, important=important, slots=rule.important_slots
            )
            inputs = gather_tokens(part.tokens, rows, part.query_time_s)
            feed = {name: inputs[name].numpy() for name in self.inputs if name != SUMMARY_INPUT}
            summary = self.runtime.config.intents.summary if self.runtime.config.intents else None
            if summary is not None:  # the heads' input: the graph needs it, next items do not read it
                feed[SUMMARY_INPUT] = tokens_summary(
                    part.tokens,
                    part.starts,
                    part.ends - 1,
                    n_actions=summary.n_actions,
                    dwell_buckets=summary.dwell_buckets,
                    window=summary.window,
                )
            out[lo : lo + len(part)] = self.session.run([OUTPUT_NEXT_ITEM], feed)[0]
        return out
