"""A trained next-item model and its folder (``save_pretrained`` / ``from_pretrained``).

Layout::

    MODEL/
      manifest.json          kind "seqintent.model", format version, seqintent version, task, dataset name
      config.json            {"config": NextItemConfig, "input_spec": InputSpec}
      model.safetensors      the network's weights
      vocab/                 items, actions, categories, devices of the Dataset it was trained on
      dataset_manifest.json  that Dataset's manifest
      metrics.json           validation metrics, epochs, timings (written by training)
      intents.json, intents.safetensors, profile_users.parquet
                             intent heads, calibration and profile (when trained with intents;
                             see seqintent.models.intents)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seqintent.data import ArtifactWriter, Dataset, Vocabulary, read_json, read_manifest, write_json
from seqintent.errors import ArtifactError
from seqintent.models.base import HistoryBatch, Scorer
from seqintent.models.batching import gather_tokens, history_rows
from seqintent.models.config import ModelConfig, NextItemConfig
from seqintent.models.features import FAMILY_NAMES, EventTokens, InputSpec
from seqintent.models.intents import IntentState
from seqintent.models.network import NextItemNetwork
from seqintent.schema.columns import MANIFEST_KIND_MODEL, MODEL_FORMAT_VERSION, ModelFiles, Vocabularies

SAVED_VOCABULARIES = (Vocabularies.ITEMS, Vocabularies.ACTIONS, Vocabularies.CATEGORIES, Vocabularies.DEVICES)
TASK_NEXT_ITEM = "next_item"


def important_events(tokens: EventTokens, cfg: ModelConfig) -> np.ndarray | None:
    """Events importance truncation may keep (their action family is one of ``important_families``)."""
    if cfg.truncation != "importance":
        return None
    codes = [FAMILY_NAMES.index(f) + 1 for f in cfg.important_families]
    return np.isin(tokens.family, codes)


def model_rows(tokens: EventTokens, starts: np.ndarray, ends: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """History rows [B, max_len] as the model reads them (its truncation rule)."""
    return history_rows(
        starts, ends, cfg.max_len, important=important_events(tokens, cfg), slots=cfg.important_slots
    )


class NextItemModel(Scorer):
    """A trained network with its config, input spec and vocabularies; scores next items.

    Parameters
    ----------
    network:
        The trained :class:`NextItemNetwork`.
    config:
        The config it was trained with.
    spec:
        Its embedding table sizes and the Dataset facts it relies on.
    vocabs:
        Vocabularies of the Dataset it was trained on (items, actions, categories, devices).
    dataset_manifest:
        That Dataset's manifest.
    metrics:
        Training and validation figures, saved as ``metrics.json``.
    intents:
        Intent heads, calibration and profile (None for a next-item-only model).
    """

    def __init__(
        self,
        network: NextItemNetwork,
        config: NextItemConfig,
        spec: InputSpec,
        *,
        vocabs: dict[str, Vocabulary],
        dataset_manifest: dict[str, Any],
        metrics: dict[str, Any] | None = None,
        intents: IntentState | None = None,
    ) -> None:
        self.network = network
        self.config = config
        self.spec = spec
        self.vocabs = vocabs
        self.dataset_manifest = dataset_manifest
        self.metrics = metrics or {}
        self.intents = intents

    @property
    def n_items(self) -> int:
        return self.spec.n_items

    def check_dataset(self, dataset: Dataset) -> None:
        super().check_dataset(dataset)
        mine = self.vocabs.get(Vocabularies.ITEMS)
        if mine is not None and mine.values != dataset.vocab(Vocabularies.ITEMS).values:
            raise ArtifactError(
                "the Dataset's items vocabulary differs from the one the model was trained on",
                file=str(dataset.path),
                fix="evaluate on the Dataset the model was trained on (same ingest, same vocabularies)",
            )

    @torch.inference_mode()
    def score(self, batch: HistoryBatch, batch_size: int = 1024) -> np.ndarray:
        """Next-item logits [B, n_items] after each history (higher is better; column 0 is ``-inf``)."""
        self.network.eval()
        out = np.empty((len(batch), self.n_items), dtype=np.float32)
        # histories of similar length share a chunk, whose all-padding columns are dropped: on short
        # sequences (Amazon, sessions) most of a max_len-wide encoder pass would be padding, which no
        # real column attends to and positions count from the newest event, so scores are unchanged
        order = np.argsort(np.asarray(batch.ends) - np.asarray(batch.starts), kind="stable")
        for lo in range(0, len(batch), batch_size):
            pick = order[lo : lo + batch_size]
            part = batch.take(pick)
            rows = model_rows(part.tokens, part.starts, part.ends, self.config.model)
            rows = rows[:, int(np.argmax((rows >= 0).any(axis=0))) :]
            inputs = gather_tokens(part.tokens, rows, part.query_time_s)
            out[pick] = self.network(**inputs).numpy()
        return out

    # --- the Model folder ------------------------------------------------------------------------

    def save_pretrained(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the Model folder at ``path`` (atomically: a crash leaves no half-written folder).

        Raises
        ------
        ArtifactError
            If ``path`` is a file, or a non-empty folder and not ``overwrite``.
        """
        with ArtifactWriter(
            path, kind=MANIFEST_KIND_MODEL, format_version=MODEL_FORMAT_VERSION, overwrite=overwrite
        ) as w:
            write_json(
                w.path / ModelFiles.CONFIG,
                {"config": self.config.to_dict(), "input_spec": self.spec.model_dump()},
            )
            state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
            save_file(state, str(w.path / ModelFiles.WEIGHTS), metadata={"format": "pt"})
            (w.path / ModelFiles.VOCAB).mkdir()
            for name, vocab in self.vocabs.items():
                vocab.save(w.path / ModelFiles.VOCAB / f"{name}.parquet")
            write_json(w.path / ModelFiles.DATASET_MANIFEST, self.dataset_manifest)
            write_json(w.path / ModelFiles.METRICS, self.metrics)
            extra = {}
            if self.intents is not None:
                self.intents.save(w.path)
                extra["intents"] = [spec.name for spec in self.intents.labels]
            return w.commit({"task": TASK_NEXT_ITEM, "dataset": self.dataset_manifest.get("name"), **extra})

    @classmethod
    def from_pretrained(cls, path: str | Path) -> NextItemModel:
        """Load a Model folder written by :meth:`save_pretrained`.

        Raises
        ------
        ArtifactError
            If the folder is missing, not a Model folder, of an unsupported version, or any of its
            files is missing or does not match the others (the message names the file).
        """
        folder = Path(path)
        read_manifest(folder, kind=MANIFEST_KIND_MODEL, supported_versions=(MODEL_FORMAT_VERSION,))
        config_path = folder / ModelFiles.CONFIG
        body = read_json(config_path)
        try:
            config = NextItemConfig.from_saved(body["config"])
            spec = InputSpec.model_validate(body["input_spec"])
        except (KeyError, TypeError, ValidationError) as exc:
            raise ArtifactError(
                f"config does not describe a next-item model: {exc}",
                file=str(config_path),
                fix="re-train the model with this version of seqintent",
            ) from None
        network = NextItemNetwork(config.model, spec)
        weights_path = folder / ModelFiles.WEIGHTS
        if not weights_path.is_file():
            raise ArtifactError("weights file is missing", file=str(weights_path))
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError) as exc:
            raise ArtifactError(
                f"weights are not a readable safetensors file: {exc}", file=str(weights_path)
            ) from None
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[:3]
            raise ArtifactError(
                "weights do not match config.json: " + " ".join(first),
                file=str(weights_path),
                fix="keep config.json and model.safetensors from the same training run",
            ) from None
        vocabs = {}
        for name in SAVED_VOCABULARIES:
            vocab_path = folder / ModelFiles.VOCAB / f"{name}.parquet"
            vocabs[name] = Vocabulary.load(vocab_path, padded=name in Vocabularies.PADDED)
        if len(vocabs[Vocabularies.ITEMS]) != spec.n_items:
            raise ArtifactError(
                f"items vocabulary has {len(vocabs[Vocabularies.ITEMS])} entries, config.json {spec.n_items}",
                file=str(folder / ModelFiles.VOCAB),
            )
        network.eval()
        intents = None
        if (folder / ModelFiles.INTENTS).is_file():
            intents = IntentState.load(folder, config.model.hidden)
        return cls(
            network,
            config,
            spec,
            vocabs=vocabs,
            dataset_manifest=read_json(folder / ModelFiles.DATASET_MANIFEST),
            metrics=read_json(folder / ModelFiles.METRICS),
            intents=intents,
        )

    def __repr__(self) -> str:
        m = self.config.model
        return (
            f"NextItemModel(items={self.n_items - 1}, hidden={m.hidden}, layers={m.layers}, "
            f"dataset={self.dataset_manifest.get('name')!r})"
        )
