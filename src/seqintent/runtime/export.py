"""Export a Model folder to a Runtime folder: ONNX graphs (fp32, optionally int8) plus vocabularies.

The graph takes the network's token inputs (int64 [B, T], ``time_s`` float32 [B, T]; batch and
length dynamic, left-padded with 0), plus ``summary`` float32 [B, width] where the intent heads
read the whole-history summary (:mod:`seqintent.models.history_summary`), and returns

- ``next_item`` float32 [B, n_items]: the network's next-item logits (column 0 is ``-inf``);
- ``explanation`` float32 [B, T]: attention roll-out (Abnar & Zuidema, ACL 2020) of the newest
  column over the history, i.e. how much each event fed the state every head reads; rows sum to
  1 over real events and are 0 on padding. Each layer's head-averaged attention ``P`` is mixed with
  the residual path, ``0.5 P + 0.5 I``, and the layers are multiplied top-down.

The graph's blocks compute attention step by step and keep its probabilities (the fused kernel
does not return them), so the roll-out reads the very probabilities the next-item pass used; the
network's weights are unchanged and it runs the fused kernel again once the graph is built.

Every export is checked: the fp32 graph must match PyTorch within ``tolerance`` on seeded inputs of
several shapes (padding included); the int8 graph's distance and top-10 agreement are recorded.
This module imports torch; the engine that serves the Runtime does not.
"""

from __future__ import annotations

import logging
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqintent._compat import require
from seqintent.data import ArtifactWriter, write_json
from seqintent.errors import ArtifactError
from seqintent.models import INPUT_NAMES, NextItemModel, NextItemNetwork
from seqintent.models.features import DWELL_BUCKETS, FAMILY_NAMES, GAP_BUCKETS, HOURS, WEEKDAYS
from seqintent.models.heads import IntentNetwork
from seqintent.models.intent_config import parse_horizon
from seqintent.runtime._folder import (
    ANOMALY_DIR,
    HEAD_OUTPUTS,
    ITEM_CATEGORY_FILE,
    OUTPUT_EXPLANATION,
    OUTPUT_NEXT_ITEM,
    PRECISION_FILES,
    RUNTIME_VOCABULARIES,
    SUMMARY_INPUT,
    IntentLabel,
    IntentSpec,
    InterestSpec,
    PrecisionInfo,
    RuntimeConfig,
    SummarySpec,
    TokenSpec,
    TruncationSpec,
    runtime_path_for,
)
from seqintent.schema.columns import MANIFEST_KIND_RUNTIME, RUNTIME_FORMAT_VERSION, ModelFiles, RuntimeFiles

DEFAULT_OPSET = 18
DEFAULT_TOLERANCE = 1e-4
# (batch, length); None: the model's max_len, which also caps the others (no position beyond it)
CHECK_SHAPES = ((1, 1), (1, 7), (3, 12), (4, None))


class ExplainedNetwork(nn.Module):
    """The network plus the attention roll-out of its newest column (the exported graph).

    Parameters
    ----------
    network:
        A trained :class:`~seqintent.models.NextItemNetwork` (its blocks keep their attention
        probabilities only while this module runs).
    heads:
        The Model's intent heads (:class:`~seqintent.models.heads.IntentHeads`), or None for a
        next-item model. With heads, the graph also returns the heads' logits that are not empty
        (``next_action``, ``next_family``, ``intents``, in that order).
    """

    def __init__(self, network: NextItemNetwork, heads: nn.Module | None = None) -> None:
        super().__init__()
        self.network = network
        self.whole = None if heads is None else IntentNetwork(network, heads).eval()
        self.head_outputs = (
            []
            if heads is None
            else [n for n, size in zip(HEAD_OUTPUTS, heads.sizes, strict=True) if size > 0]
        )

    @property
    def input_names(self) -> list[str]:
        heads = None if self.whole is None else self.whole.intent_heads
        return [*INPUT_NAMES, *([SUMMARY_INPUT] if heads is not None and heads.summary is not None else [])]

    @property
    def output_names(self) -> list[str]:
        return [OUTPUT_NEXT_ITEM, OUTPUT_EXPLANATION, *self.head_outputs]

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        blocks = list(self.network.encoder.blocks)
        for block in blocks:
            block.kept_attention = []
        try:
            if self.whole is None:
                logits = self.network(*inputs)
                heads: dict[str, torch.Tensor] = {}
            else:
                logits, action, family, intents = self.whole(*inputs)
                heads = {"next_action": action, "next_family": family, "intents": intents}
            # the next-item pass holds the batch's first rows; the intent pass, when the network runs
            # one beside it (its rows follow), is not explained
            batch = inputs[0].shape[0]
            attention = [block.kept_attention[0][:batch] for block in blocks]
        finally:
            for block in blocks:
                block.kept_attention = None
        weights = attention_rollout(attention, inputs[INPUT_NAMES.index("action")])
        return (logits, weights, *(heads[name] for name in self.head_outputs))


def explained_network(model: NextItemModel) -> ExplainedNetwork:
    """The graph a Model exports to: next items, the roll-out, and its intent heads when it has them."""
    heads = model.intents.heads if model.intents is not None else None
    return ExplainedNetwork(model.network.eval(), heads).eval()


def attention_rollout(attention: list[torch.Tensor], action: torch.Tensor) -> torch.Tensor:
    """Roll-out weights [B, T] of the newest column over all columns (rows sum to 1 over real events).

    ``attention`` holds each block's head-averaged attention probabilities [B, T, T], first block
    first; ``action`` the action codes [B, T] (0 on padding, which gets no weight).
    """
    b, t, _ = attention[0].shape
    cols = torch.arange(t, device=action.device)
    eye = (cols[None, :] == cols[:, None]).to(attention[0].dtype)  # comparisons export to every runtime
    r = (cols == t - 1).to(attention[0].dtype)[None].expand(b, t)  # [B, T] one-hot on the newest column
    for probabilities in attention[::-1]:
        mixed = 0.5 * probabilities + 0.5 * eye  # [B, T, T]
        r = (r[:, None, :] @ mixed)[:, 0]  # [B, T]
    r = r * (action > 0).to(r.dtype)
    return r / r.sum(dim=1, keepdim=True).clamp(min=1e-12)


def check_inputs(model: NextItemModel, batch: int, length: int, seed: int) -> dict[str, torch.Tensor]:
    """Seeded token inputs within the model's table sizes, the first row left-padded when it can be."""
    spec, g = model.spec, torch.Generator().manual_seed(seed)
    action = torch.randint(1, max(spec.n_actions, 2), (batch, length), generator=g)
    family_table = torch.tensor(spec.action_family, dtype=torch.int64)
    x = {
        "item": torch.randint(0, spec.n_items, (batch, length), generator=g),
        "action": action,
        "family": family_table[action],
        "category": torch.randint(0, max(spec.n_categories, 1), (batch, length), generator=g),
        "gap": torch.randint(0, GAP_BUCKETS, (batch, length), generator=g),
        "hour": torch.randint(0, HOURS, (batch, length), generator=g),
        "weekday": torch.randint(0, WEEKDAYS, (batch, length), generator=g),
        "dwell": torch.randint(0, DWELL_BUCKETS, (batch, length), generator=g),
        "next_gap": torch.randint(0, GAP_BUCKETS, (batch, length), generator=g),
        "time_s": -torch.sort(torch.rand(batch, length, generator=g) * 1e5, dim=1, descending=True).values,
    }
    x["time_s"][:, -1] = 0.0
    if length > 2:  # left padding in the first row
        pad = length // 3
        for name in INPUT_NAMES:
            x[name][0, :pad] = 0
    heads = model.intents.heads if model.intents is not None else None
    if heads is not None and heads.summary is not None:
        x[SUMMARY_INPUT] = torch.rand(batch, heads.summary_width, generator=g)
    return x


def export_runtime(
    model: str | Path,
    out: str | Path | None = None,
    *,
    int8: bool = False,
    overwrite: bool = False,
    anomaly: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
) -> Path:
    """Write the Runtime folder of a Model folder.

    Parameters
    ----------
    model:
        The Model folder (``seqintent train`` output).
    out:
        The Runtime folder to write; default the sibling ``MODEL.runtime/``.
    int8:
        Also write the int8 dynamic quantization of the graph: weights int8, activations
        quantized on the fly, in the products over the whole catalogue (:func:`large_products`;
        every product when a graph has none that large).
    overwrite:
        Replace an existing Runtime folder.
    anomaly:
        An anomaly model folder (``seqintent anomaly fit``) to serve risk with; copied into the
        Runtime as ``anomaly/``.
    opset:
        ONNX opset.
    tolerance:
        Largest allowed |ONNX fp32 - PyTorch| over next-item logits in the export check.
    seed:
        Seeds the check inputs.

    Returns
    -------
    Path
        The Runtime folder.

    Raises
    ------
    ArtifactError
        If the Model folder is invalid, the output exists (without ``overwrite``), or the fp32 graph
        differs from PyTorch by more than ``tolerance``.
    """
    ort = require("onnxruntime", "exporting a runtime")
    require("onnx", "exporting a runtime")
    model_path = Path(model)
    if anomaly is not None:
        _check_anomaly(Path(anomaly))  # before the export's minutes, not after
    loaded = NextItemModel.from_pretrained(model_path)
    loaded.network.encoder.fold_item_attributes()  # this copy only serves: one item table to read
    out_path = runtime_path_for(model_path) if out is None else Path(out)
    graph = explained_network(loaded)
    max_len = loaded.config.model.max_len
    example = check_inputs(loaded, 2, min(max_len, 8), seed)
    with ArtifactWriter(
        out_path, kind=MANIFEST_KIND_RUNTIME, format_version=RUNTIME_FORMAT_VERSION, overwrite=overwrite
    ) as w:
        fp32 = w.path / RuntimeFiles.ONNX_FP32
        with torch.no_grad(), warnings.catch_warnings():
            # shapes read in Python (view sizes, sqrt of the head width) are constants or traced
            # symbolically; the export check below runs other shapes to prove it
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            # the TorchScript exporter is the one that keeps batch and length dynamic without onnxscript
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            # slices the exporter cannot fold are left to ONNX Runtime's own graph optimiser
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
            torch.onnx.export(
                graph,
                tuple(example[n] for n in graph.input_names),
                str(fp32),
                input_names=graph.input_names,
                output_names=graph.output_names,
                dynamic_axes={n: {0: "batch", 1: "length"} for n in INPUT_NAMES}
                | {n: {0: "batch"} for n in graph.input_names if n == SUMMARY_INPUT}
                | {OUTPUT_NEXT_ITEM: {0: "batch"}, OUTPUT_EXPLANATION: {0: "batch", 1: "length"}}
                | {n: {0: "batch"} for n in graph.head_outputs},
                opset_version=opset,
                dynamo=False,
            )
        session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
        used = [i.name for i in session.get_inputs()]  # inputs the config does not use are pruned
        precisions = {"fp32": _check(session, graph, loaded, used, max_len, seed, tolerance, strict=True)}
        if int8:
            precisions["int8"] = _quantize(
                ort, fp32, w.path / RuntimeFiles.ONNX_INT8, graph, loaded, used, seed
            )
        (w.path / RuntimeFiles.VOCAB).mkdir()
        for name in RUNTIME_VOCABULARIES:
            shutil.copy2(model_path / ModelFiles.VOCAB / f"{name}.parquet", w.path / RuntimeFiles.VOCAB)
        config = _runtime_config(loaded, graph, used, opset, precisions)
        if loaded.intents is not None:
            # which category each item is in: exclusions (by category) leave their items out of next items
            np.save(w.path / ITEM_CATEGORY_FILE, np.asarray(loaded.intents.profile.item_category, np.int32))
        if anomaly is not None:
            _copy_anomaly(Path(anomaly), w.path / ANOMALY_DIR)
        write_json(w.path / RuntimeFiles.CONFIG, config.model_dump(mode="json"))
        return w.commit({"model": str(model_path.resolve()), "dataset": loaded.dataset_manifest.get("name")})


def _intent_spec(model: NextItemModel) -> IntentSpec | None:
    """What the engine needs to turn head logits into answers: labels, calibration, interest settings."""
    state = model.intents
    if state is None:
        return None
    interests = state.config.interests
    half_life = parse_horizon(interests.half_life)  # None for "session": the week explain.interests uses
    return IntentSpec(
        labels=[
            IntentLabel(
                name=spec.name, kind=spec.kind, horizon=None if spec.horizon is None else str(spec.horizon)
            )
            for spec in state.binary_labels
        ],
        next_action=getattr(state.class_label("next_action"), "name", None),
        next_family=getattr(state.class_label("next_family"), "name", None),
        calibration=state.calibration,
        interests=InterestSpec(
            half_life_s=half_life or 7 * 86400.0,
            half_life_events=interests.half_life_events,
            skip_dwell_s=interests.skip_dwell_s,
            min_skips=interests.min_skips,
            skip_share=interests.skip_share,
            top=interests.top,
        ),
        summary=None if state.heads.summary is None else SummarySpec(**state.heads.describe_summary()),
    )


def _check_anomaly(folder: Path) -> None:
    """Raise ArtifactError (naming the file) unless ``folder`` is an anomaly model folder that loads."""
    from seqintent.anomaly import AnomalyDetector

    AnomalyDetector.load(folder)


def _copy_anomaly(source: Path, target: Path) -> None:
    """Copy an anomaly model folder (``seqintent anomaly fit``) into the Runtime."""
    shutil.copytree(source, target)


def _runtime_config(
    model: NextItemModel,
    graph: ExplainedNetwork,
    used: list[str],
    opset: int,
    precisions: dict[str, PrecisionInfo],
) -> RuntimeConfig:
    spec, cfg = model.spec, model.config.model
    return RuntimeConfig(
        tokens=TokenSpec(
            # the item attribute codes are a buffer inside the graph: tokens carry item indices only
            **spec.model_dump(exclude={"item_attribute_values", "item_attribute_slots"}),
            gap_buckets=GAP_BUCKETS,
            dwell_buckets=DWELL_BUCKETS,
            families=list(FAMILY_NAMES),
        ),
        truncation=TruncationSpec(
            max_len=cfg.max_len,
            rule=cfg.truncation,
            important_families=cfg.important_families,
            important_slots=cfg.important_slots,
        ),
        inputs=used,
        outputs=graph.output_names,
        opset=opset,
        precisions=precisions,
        heads=["next_item", *graph.head_outputs],
        intents=_intent_spec(model),
        model={
            "name": model.dataset_manifest.get("name"),
            "config": model.config.to_dict(),
            "metrics": {k: v for k, v in model.metrics.items() if k != "history"},
        },
    )


def _compare(
    session: Any, graph: ExplainedNetwork, model: NextItemModel, used: list[str], max_len: int, seed: int
) -> tuple[float, float, float]:
    """Max |ONNX - PyTorch| of next-item logits, of the other outputs (explanation, head logits), and
    top-10 agreement, over the check shapes."""
    diff = explain_diff = head_diff = 0.0
    agree, total = 0, 0
    for i, (batch, length) in enumerate(CHECK_SHAPES):
        x = check_inputs(model, batch, min(length or max_len, max_len), seed + 1 + i)
        with torch.no_grad():
            want = [t.numpy() for t in graph(*(x[n] for n in graph.input_names))]
        got = session.run(None, {n: x[n].numpy() for n in used})
        want_logits, want_weights, got_logits, got_weights = want[0], want[1], got[0], got[1]
        for w_head, g_head in zip(want[2:], got[2:], strict=True):  # head logits: finite past class 0
            ok = np.isfinite(w_head)
            if not np.array_equal(ok, np.isfinite(g_head)):
                return math.inf, math.inf, 0.0
            head_diff = max(head_diff, float(np.abs(g_head[ok] - w_head[ok]).max(initial=0.0)))
        finite = np.isfinite(want_logits)
        if not np.array_equal(finite, np.isfinite(got_logits)):
            return math.inf, math.inf, 0.0
        diff = max(diff, float(np.abs(got_logits[finite] - want_logits[finite]).max()))
        explain_diff = max(explain_diff, float(np.abs(got_weights - want_weights).max()))
        k = min(10, want_logits.shape[1] - 1)
        for g_row, w_row in zip(got_logits, want_logits, strict=True):
            agree += len(set(np.argsort(-g_row)[:k]) & set(np.argsort(-w_row)[:k]))
            total += k
    return diff, max(explain_diff, head_diff), agree / max(total, 1)


def _check(
    session: Any,
    graph: ExplainedNetwork,
    model: NextItemModel,
    used: list[str],
    max_len: int,
    seed: int,
    tolerance: float,
    *,
    strict: bool,
) -> PrecisionInfo:
    diff, explain_diff, agreement = _compare(session, graph, model, used, max_len, seed)
    if strict and max(diff, explain_diff) > tolerance:
        raise ArtifactError(
            f"the exported graph differs from PyTorch by {max(diff, explain_diff):.3g} "
            f"(tolerance {tolerance:g})",
            fix="report this with the Model folder; a newer onnxruntime or another --opset may help",
        )
    return PrecisionInfo(file=PRECISION_FILES["fp32"], max_abs_diff=diff, top10_agreement=agreement)


LARGE_WEIGHT = 1 << 20  # elements: the item table's product, not the encoder's small matrices


def large_products(graph: Path) -> list[str]:
    """The matrix products of a graph whose constant weight has at least ``LARGE_WEIGHT`` elements.

    Only these are worth int8: reading a table of the whole catalogue (14 MB for 55k items at 64
    floats) is what their time is spent on, and int8 reads a quarter of it. The encoder's products
    are small and compute-bound: quantizing their activations on the fly costs what int8 saves
    there (served Taobao graph: 1.60 ms with every product in int8, 1.61 ms with the item product
    alone), and each one adds rounding (top-10 agreement with fp32 99.5 % against 99.7 %).
    """
    import onnx

    model = onnx.load(str(graph), load_external_data=False)
    sizes = {w.name: math.prod(w.dims) for w in model.graph.initializer}
    return [
        node.name
        for node in model.graph.node
        if node.op_type in ("MatMul", "Gemm") and max(sizes.get(x, 0) for x in node.input) >= LARGE_WEIGHT
    ]


def _quantize(
    ort: Any,
    fp32: Path,
    int8: Path,
    graph: ExplainedNetwork,
    model: NextItemModel,
    used: list[str],
    seed: int,
) -> PrecisionInfo:
    quantization = require("onnxruntime.quantization", "int8 quantization")
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it logs a pre-processing hint meant for image models
    try:
        quantization.quantize_dynamic(
            str(fp32),
            str(int8),
            weight_type=quantization.QuantType.QInt8,
            nodes_to_quantize=large_products(fp32) or None,
        )
    finally:
        quiet.setLevel(level)
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    diff, _, agreement = _compare(session, graph, model, used, model.config.model.max_len, seed)
    return PrecisionInfo(file=PRECISION_FILES["int8"], max_abs_diff=diff, top10_agreement=agreement)
