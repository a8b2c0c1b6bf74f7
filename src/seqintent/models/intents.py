"""The intent part of a Model: trained labels, heads, calibration maps and profile, saved in its folder.

A :class:`~seqintent.models.model.NextItemModel` trained with intents carries an
:class:`IntentState` as ``model.intents``; the Model folder then also holds ``intents.json``,
``intents.safetensors`` and (with a user table) ``profile_users.parquet``. :func:`infer` runs the
whole network (:class:`~seqintent.models.heads.IntentNetwork`) over histories and returns
calibrated probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy

from seqintent.data import read_json, write_json
from seqintent.errors import ArtifactError
from seqintent.models.calibration import calibrated_probabilities
from seqintent.models.features import FAMILY_NAMES
from seqintent.models.heads import IntentHeads, IntentNetwork, RecentEvents
from seqintent.models.intent_config import IntentConfig, LabelSpec
from seqintent.models.network import NextItemNetwork
from seqintent.models.profile import Profile
from seqintent.schema.columns import ModelFiles

HEAD_PREFIX = "heads."
INTENTS_FORMAT_VERSION = 1


@dataclass
class IntentState:
    """Trained intent heads with what they answer.

    Attributes
    ----------
    config:
        The intent config used for training.
    labels:
        The labels the heads answer (those the log supported), in head order: classes first
        (next_action, next_family), then yes/no labels.
    heads:
        The trained :class:`IntentHeads`.
    calibration:
        Label name → calibration map (see :mod:`seqintent.models.calibration`).
    profile:
        Categories, popularity and segments (see :class:`Profile`).
    metrics:
        Training and validation figures of the heads.
    """

    config: IntentConfig
    labels: list[LabelSpec]
    heads: IntentHeads
    calibration: dict[str, dict[str, Any]]
    profile: Profile
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def binary_labels(self) -> list[LabelSpec]:
        return [spec for spec in self.labels if not spec.is_class]

    def class_label(self, kind: str) -> LabelSpec | None:
        return next((spec for spec in self.labels if spec.kind == kind), None)

    def network(self, network: NextItemNetwork) -> IntentNetwork:
        """The whole network (next item and heads) for inference or export."""
        return IntentNetwork(network, self.heads).eval()

    def save(self, folder: Path) -> None:
        """Write ``intents.json``, ``intents.safetensors`` and the profile's user table into ``folder``."""
        body = {
            "format_version": INTENTS_FORMAT_VERSION,
            "config": self.config.to_dict(),
            "labels": [spec.model_dump(mode="json", exclude_none=True) for spec in self.labels],
            "head_sizes": list(self.heads.sizes),
            "recent": None if self.heads.recent is None else self.heads.recent.describe(),
            "summary": self.heads.describe_summary(),
            "calibration": self.calibration,
            "profile": self.profile.meta(),
            "metrics": self.metrics,
        }
        write_json(folder / ModelFiles.INTENTS, body)
        tensors = {HEAD_PREFIX + k: v.detach().numpy().copy() for k, v in self.heads.state_dict().items()}
        tensors.update(self.profile.tensors())
        save_numpy(tensors, str(folder / ModelFiles.INTENT_WEIGHTS), metadata={"format": "np"})
        if self.profile.user_segment:
            self.profile.save_users(folder)

    @classmethod
    def load(cls, folder: Path, hidden: int) -> IntentState:
        """Read the intent files of a Model folder (``hidden``: the encoder's width).

        Raises
        ------
        ArtifactError
            If a file is missing or does not match the others (the message names it).
        """
        path = folder / ModelFiles.INTENTS
        body = read_json(path)
        if body.get("format_version") != INTENTS_FORMAT_VERSION:
            raise ArtifactError(
                f"intents format version {body.get('format_version')} is not supported "
                f"(supported: {INTENTS_FORMAT_VERSION})",
                file=str(path),
                fix="re-train the model with this version of seqintent",
            )
        try:
            config = IntentConfig.model_validate(body["config"])
            labels = [LabelSpec.model_validate(x) for x in body["labels"]]
            n_actions, n_families, n_binary = (int(x) for x in body["head_sizes"])
            recent = RecentEvents(**body["recent"], out=config.head_hidden) if body.get("recent") else None
            summary = body.get("summary") or {"window": 0, "n_actions": 0}
            summary_window, summary_actions = int(summary["window"]), int(summary["n_actions"])
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ArtifactError(f"does not describe intent heads: {exc}", file=str(path)) from None
        weights = folder / ModelFiles.INTENT_WEIGHTS
        if not weights.is_file():
            raise ArtifactError("intent weights are missing", file=str(weights))
        try:
            tensors = load_numpy(str(weights))
        except (SafetensorError, OSError) as exc:
            raise ArtifactError(f"not a readable safetensors file: {exc}", file=str(weights)) from None
        heads = IntentHeads(
            hidden,
            config.head_hidden,
            n_actions,
            n_families,
            n_binary,
            recent,
            summary_window,
            summary_actions,
        )
        state = {
            k.removeprefix(HEAD_PREFIX): torch.from_numpy(v)
            for k, v in tensors.items()
            if k.startswith(HEAD_PREFIX)
        }
        read = state.get("summary.weight")
        if read is not None and read.shape[1] != heads.summary_width:
            raise ArtifactError(
                f"the heads read a history summary of {read.shape[1]} columns; this version of seqintent "
                f"computes {heads.summary_width} (the summary's layout changed since the Model was trained)",
                file=str(weights),
                fix="re-train the model with this version of seqintent",
            )
        for key, default in heads.state_dict().items():
            if key.startswith(("fitted_", "use_fitted")):
                state.setdefault(key, default)  # saved before the fallback existed: none
        try:
            heads.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ArtifactError(
                "intent weights do not match intents.json: " + " ".join(str(exc).strip().splitlines()[:2]),
                file=str(weights),
                fix="keep intents.json and intents.safetensors from the same training run",
            ) from None
        heads.eval()
        profile = Profile.load(folder, tensors, body.get("profile", {}))
        return cls(config, labels, heads, body.get("calibration", {}), profile, body.get("metrics", {}))


@dataclass
class IntentOutputs:
    """Answers of the whole network for a batch of histories.

    ``next_item``: logits [B, V] (column 0 ``-inf``); ``next_action`` / ``next_family``:
    calibrated probabilities [B, A] / [B, F] (None when the model has no such head);
    ``intents``: label name → calibrated probability [B] of each yes/no label; ``raw``: label
    name → uncalibrated logits (yes/no [B], classes [B, C]).
    """

    next_item: np.ndarray
    next_action: np.ndarray | None
    next_family: np.ndarray | None
    intents: dict[str, np.ndarray]
    raw: dict[str, np.ndarray]


def outputs_from_logits(
    state: IntentState,
    next_item: np.ndarray,
    next_action: np.ndarray,
    next_family: np.ndarray,
    intents: np.ndarray,
) -> IntentOutputs:
    """Calibrated answers from the network's four outputs."""
    raw: dict[str, np.ndarray] = {}
    action_p = family_p = None
    action_spec, family_spec = state.class_label("next_action"), state.class_label("next_family")
    if action_spec is not None:
        raw[action_spec.name] = next_action
        action_p = calibrated_probabilities(next_action, state.calibration.get(action_spec.name))
    if family_spec is not None:
        raw[family_spec.name] = next_family
        family_p = calibrated_probabilities(next_family, state.calibration.get(family_spec.name))
    probs = {}
    for k, spec in enumerate(state.binary_labels):
        raw[spec.name] = intents[:, k]
        probs[spec.name] = calibrated_probabilities(intents[:, k], state.calibration.get(spec.name))
    return IntentOutputs(next_item, action_p, family_p, probs, raw)


def family_name(code: int) -> str | None:
    """The family name of a family code (1-based as in event tokens)."""
    return FAMILY_NAMES[code - 1] if 1 <= code <= len(FAMILY_NAMES) else None
