"""Every answer of a trained Model for a batch of histories: next items, next action, intents."""

from __future__ import annotations

import numpy as np
import torch

from seqintent.errors import NotFittedError
from seqintent.models.base import HistoryBatch
from seqintent.models.batching import gather_tokens
from seqintent.models.config import ModelConfig
from seqintent.models.heads import IntentNetwork
from seqintent.models.intents import IntentOutputs, outputs_from_logits
from seqintent.models.model import NextItemModel, model_rows


def require_intents(model: NextItemModel) -> None:
    """Raise when ``model`` was trained without intent heads."""
    if model.intents is None:
        raise NotFittedError(
            "this Model has no intent heads (it was trained for next items only)",
            fix="re-train it with `seqintent train` (intent heads are on by default) or train_intents()",
        )


@torch.inference_mode()
def run_network(
    net: IntentNetwork,
    cfg: ModelConfig,
    batch: HistoryBatch,
    *,
    intents_only: bool = False,
    batch_size: int = 512,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs of the whole network for each history (read by the model's truncation rule).

    With ``intents_only`` the next-item logits (a [B, V] block) are not computed and None is
    returned in their place: scoring many cuts for intents needs only the heads.

    Returns
    -------
    tuple
        ``(next_item [B, V] | None, next_action [B, A], next_family [B, F], intents [B, K])`` logits.
    """
    was_training = net.training
    net.eval()
    parts: list[list[np.ndarray]] = [[], [], [], []]
    for lo in range(0, len(batch), batch_size):
        part = batch.take(slice(lo, lo + batch_size))
        rows = model_rows(part.tokens, part.starts, part.ends, cfg)
        inputs = gather_tokens(part.tokens, rows, part.query_time_s)
        summary = net.intent_heads.summarize(part.tokens, part.starts, part.ends - 1)
        if intents_only:
            heads = net.head_logits(inputs, net.intent_hidden(inputs), summary=summary)
            outputs = (None, *heads)
        else:
            outputs = net(**inputs, summary=summary)
        for store, value in zip(parts, outputs, strict=True):
            if value is not None:
                store.append(value.numpy())
    net.train(was_training)
    n_heads = net.intent_heads.sizes
    out: list[np.ndarray | None] = [np.concatenate(parts[0]) if parts[0] else None]
    for k, size in enumerate(n_heads, start=1):
        out.append(np.concatenate(parts[k]) if parts[k] else np.zeros((0, size), np.float32))
    return out[0], out[1], out[2], out[3]  # type: ignore[return-value]


def infer(model: NextItemModel, batch: HistoryBatch, *, batch_size: int = 512) -> IntentOutputs:
    """Calibrated answers of a trained Model for each history of ``batch``.

    Returns
    -------
    IntentOutputs
        Next-item logits, calibrated next-action / next-family distributions and intent
        probabilities, one row per history.

    Raises
    ------
    NotFittedError
        If the model has no intent heads.
    """
    require_intents(model)
    state = model.intents
    assert state is not None
    net = state.network(model.network)
    next_item, action, family, intents = run_network(net, model.config.model, batch, batch_size=batch_size)
    assert next_item is not None
    return outputs_from_logits(state, next_item, action, family, intents)


def intent_logits(
    model: NextItemModel, batch: HistoryBatch, *, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uncalibrated head logits ``(next_action, next_family, intents)`` for each history."""
    require_intents(model)
    assert model.intents is not None
    net = model.intents.network(model.network)
    _, action, family, intents = run_network(
        net, model.config.model, batch, intents_only=True, batch_size=batch_size
    )
    return action, family, intents
