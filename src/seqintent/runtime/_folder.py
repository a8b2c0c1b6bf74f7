"""The Runtime folder: an exported model and its vocabularies, the only thing the service loads.

Layout::

    RUNTIME/
      manifest.json     kind "seqintent.runtime", format version, seqintent version, model, dataset
      runtime.json      RuntimeConfig: token spec, truncation rule, ONNX inputs / outputs, export checks
      model.onnx        fp32 graph, dynamic batch and length
      model.int8.onnx   int8 dynamic quantization of it (optional)
      vocab/            items, actions, categories, devices (item counts are the popularity fallback)
      item_category.npy category of each item (a Model with intent heads: exclusions by category)
      anomaly/          the anomaly model risk is scored with (optional, ``export --anomaly``)

Reading one needs numpy, pyarrow and pydantic only: no torch, no training code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seqintent.data import Vocabulary, read_json, read_manifest
from seqintent.errors import ArtifactError
from seqintent.models.history_summary import summary_width
from seqintent.schema.columns import (
    MANIFEST_KIND_MODEL,
    MANIFEST_KIND_RUNTIME,
    RUNTIME_FORMAT_VERSION,
    RuntimeFiles,
    Vocabularies,
)

Precision = Literal["fp32", "int8"]
PRECISION_FILES: dict[str, str] = {"fp32": RuntimeFiles.ONNX_FP32, "int8": RuntimeFiles.ONNX_INT8}
RUNTIME_VOCABULARIES = (
    Vocabularies.ITEMS,
    Vocabularies.ACTIONS,
    Vocabularies.CATEGORIES,
    Vocabularies.DEVICES,
)

# ONNX output names of the exported graph.
OUTPUT_NEXT_ITEM = "next_item"  # float32 [B, n_items]: next-item logits (column 0, padding, is -inf)
OUTPUT_EXPLANATION = "explanation"  # float32 [B, T]: attention roll-out weight of each column, rows sum to 1
# Head outputs of a Model trained with intent heads (each present when the head is not empty), logits:
# next_action [B, n_actions] and next_family [B, n_families + 1] (class 0 -inf), intents [B, labels].
HEAD_OUTPUTS = ("next_action", "next_family", "intents")
SUMMARY_INPUT = "summary"  # float32 [B, width]: the whole-history summary the intent heads read
ITEM_CATEGORY_FILE = "item_category.npy"  # int32 [n_items]: category index of each item (with intent heads)
ANOMALY_DIR = "anomaly"  # an anomaly model folder (seqintent anomaly fit), when exported with one


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenSpec(_Strict):
    """How events become token codes: the trained model's input spec plus the fixed bucket counts."""

    n_items: int = Field(description="items vocabulary size, padding included")
    n_actions: int = Field(description="actions vocabulary size, padding included")
    n_categories: int = Field(description="categories vocabulary size, padding included")
    action_family: list[int] = Field(description="family code of every action index (0 for padding)")
    has_time: bool = Field(description="the training Dataset had timestamps")
    has_dwell: bool = Field(description="the training Dataset had dwell times")
    timezone: str = Field("UTC", description="zone for hour-of-day and weekday")
    gap_buckets: int = Field(description="log2 buckets of time gaps")
    dwell_buckets: int = Field(description="log2 buckets of dwell times")
    families: list[str] = Field(description="action family names; code = position + 1")


class TruncationSpec(_Strict):
    """Which events of a long history the model reads (the rule it was trained with)."""

    max_len: int = Field(description="events the model reads")
    rule: Literal["last", "importance"] = Field(description="last max_len, or last plus important older ones")
    important_families: list[str] = Field(description="families importance truncation may keep")
    important_slots: int = Field(description="columns older important events may take")


class PrecisionInfo(_Strict):
    """One exported graph and how far it is from the PyTorch model on the export check inputs."""

    file: str = Field(description="ONNX file in the Runtime folder")
    max_abs_diff: float = Field(description="max |ONNX - PyTorch| over next-item logits on the check inputs")
    top10_agreement: float = Field(
        description="share of top-10 items equal to PyTorch's, on the check inputs"
    )


class IntentLabel(_Strict):
    """A yes/no intent the heads answer (in the order of the ``intents`` output)."""

    name: str = Field(description="e.g. purchase_24h")
    kind: str = Field(description="within, repurchase, churn, next_outcome")
    horizon: str | None = Field(None, description="'session', '24h' … (None: no horizon)")


class InterestSpec(_Strict):
    """Interest and exclusion settings of the Model (see :mod:`seqintent.explain.interests`)."""

    half_life_s: float = Field(description="recency weight halves over this many seconds")
    half_life_events: int = Field(description="without time: weight halves every this many events")
    skip_dwell_s: float = Field(description="a view shorter than this is a fast skip")
    min_skips: int = Field(description="fast skips or dislikes a category needs to be excluded")
    skip_share: float = Field(description="… and this share of its exposures")
    top: int = Field(description="interests listed")


class SummarySpec(_Strict):
    """The whole-history summary the intent heads read (:mod:`seqintent.models.history_summary`)."""

    window: int = Field(description="newest events of the history the summary reads")
    n_actions: int = Field(description="action codes it counts, padding included")
    dwell_buckets: int = Field(description="dwell buckets it shares, padding included")


class IntentSpec(_Strict):
    """How the engine turns the heads' logits into answers (a Model trained with intent heads)."""

    labels: list[IntentLabel] = Field(description="yes/no labels, in output order")
    next_action: str | None = Field(None, description="label name of the next-action head (None: no head)")
    next_family: str | None = Field(None, description="label name of the next-family head (None: no head)")
    calibration: dict[str, dict[str, Any]] = Field(description="label name → calibration map")
    interests: InterestSpec
    summary: SummarySpec | None = Field(None, description="the summary input of the graph (None: none)")


class RuntimeConfig(_Strict):
    """Everything the engine needs besides the graph and vocabularies (``runtime.json``)."""

    tokens: TokenSpec
    truncation: TruncationSpec
    inputs: list[str] = Field(description="ONNX input names the graph uses (int64 [B, T], time_s float32)")
    outputs: list[str] = Field(description="ONNX output names")
    opset: int = Field(description="ONNX opset of the graph")
    precisions: dict[str, PrecisionInfo] = Field(description="exported graphs by precision")
    heads: list[str] = Field(description="task heads the graph answers (next_item, ...)")
    intents: IntentSpec | None = Field(None, description="labels and calibration of the intent heads")
    model: dict[str, Any] = Field(default_factory=dict, description="name, dataset and metrics of the Model")


@dataclass(frozen=True)
class Runtime:
    """A loaded Runtime folder: config, vocabularies and the graph files. Open one with :meth:`load`."""

    path: Path
    manifest: dict[str, Any]
    config: RuntimeConfig
    vocabs: dict[str, Vocabulary]

    @classmethod
    def load(cls, path: str | Path) -> Runtime:
        """Open a Runtime folder written by :func:`seqintent.runtime.export_runtime`.

        Raises
        ------
        ArtifactError
            If the folder is missing, is a Model folder (the message gives the export command),
            is of another kind or version, or a file is missing or does not match the others.
        """
        folder = Path(path)
        manifest_path = folder / RuntimeFiles.MANIFEST
        if manifest_path.is_file() and read_json(manifest_path).get("kind") == MANIFEST_KIND_MODEL:
            raise ArtifactError(
                "this is a Model folder, not a Runtime folder",
                file=str(folder),
                fix=f"export it first: seqintent export {folder} (writes {runtime_path_for(folder)})",
            )
        manifest = read_manifest(
            folder, kind=MANIFEST_KIND_RUNTIME, supported_versions=(RUNTIME_FORMAT_VERSION,)
        )
        config_path = folder / RuntimeFiles.CONFIG
        try:
            config = RuntimeConfig.model_validate(read_json(config_path))
        except ValidationError as exc:
            raise ArtifactError(
                f"does not describe a runtime: {exc.errors()[0]['msg']} at "
                + ".".join(map(str, exc.errors()[0]["loc"])),
                file=str(config_path),
                fix="export the model again with this version of seqintent",
            ) from None
        vocabs = {
            name: Vocabulary.load(folder / RuntimeFiles.VOCAB / f"{name}.parquet", padded=True)
            for name in RUNTIME_VOCABULARIES
        }
        sizes = {
            Vocabularies.ITEMS: config.tokens.n_items,
            Vocabularies.ACTIONS: config.tokens.n_actions,
            Vocabularies.CATEGORIES: config.tokens.n_categories,
        }
        for name, size in sizes.items():
            if len(vocabs[name]) != size:
                raise ArtifactError(
                    f"{name} vocabulary has {len(vocabs[name])} entries, runtime.json {size}",
                    file=str(folder / RuntimeFiles.VOCAB / f"{name}.parquet"),
                    fix="keep the vocab/ folder and runtime.json of the same export",
                )
        for precision, info in config.precisions.items():
            if not (folder / info.file).is_file():
                raise ArtifactError(f"{precision} graph is missing", file=str(folder / info.file))
        return cls(folder, manifest, config, vocabs)

    def graph_path(self, precision: str) -> Path:
        """The ONNX file of a precision.

        Raises
        ------
        ArtifactError
            If the Runtime was exported without it (the fix names the export flag).
        """
        info = self.config.precisions.get(precision)
        if info is None:
            raise ArtifactError(
                f"the runtime has no {precision} graph",
                file=str(self.path),
                candidates=sorted(self.config.precisions),
                fix="export with --int8" if precision == "int8" else "export the model again",
            )
        return self.path / info.file

    def check_summary_input(self, session: Any, precision: str) -> None:
        """Refuse a graph whose summary input is not as wide as this version computes the summary.

        The summary's columns are computed by code, not stored with the Model: a graph exported by a
        version with another layout would otherwise fail at the first request, not at load.

        Raises
        ------
        ArtifactError
            If the widths differ (the fix: re-train and export with this version).
        """
        spec = self.config.intents.summary if self.config.intents is not None else None
        graph_input = next((i for i in session.get_inputs() if i.name == SUMMARY_INPUT), None)
        if spec is None or graph_input is None or not isinstance(graph_input.shape[-1], int):
            return
        expected = summary_width(spec.n_actions, spec.dwell_buckets)
        if graph_input.shape[-1] != expected:
            raise ArtifactError(
                f"the graph reads a history summary of {graph_input.shape[-1]} columns; this version of "
                f"seqintent computes {expected} (the summary's layout changed since the Model was trained)",
                file=str(self.graph_path(precision)),
                fix="re-train the Model with this version of seqintent, then seqintent export it",
            )


def runtime_path_for(model_folder: str | Path) -> Path:
    """Default Runtime folder of a Model folder: the sibling ``MODEL.runtime/``."""
    model_folder = Path(model_folder)
    return model_folder.with_name(model_folder.name + RuntimeFiles.SUFFIX)


def resolve_runtime(path: str | Path) -> Path:
    """A Runtime folder itself, or the exported sibling of a Model folder.

    Raises
    ------
    ArtifactError
        If ``path`` is a Model folder that was not exported yet (the fix gives the command).
    """
    folder = Path(path)
    manifest_path = folder / RuntimeFiles.MANIFEST
    if manifest_path.is_file() and read_json(manifest_path).get("kind") == MANIFEST_KIND_MODEL:
        sibling = runtime_path_for(folder)
        if not (sibling / RuntimeFiles.MANIFEST).is_file():
            raise ArtifactError(
                f"the Model folder has no exported runtime ({sibling} is missing)",
                file=str(folder),
                fix=f"seqintent export {folder}",
            )
        return sibling
    return folder
