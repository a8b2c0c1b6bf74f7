"""Which events drove each answer: attributions over the events of a history, summing to 1.

Answers: ``next_item`` (the logit of the top recommended item), ``next_action`` (the
log-probability of the most likely next action), and one per yes/no intent (its logit).

Methods
-------
``occlusion`` (default): the change of the answer when the event alone is left out of the history
(Zeiler & Fergus, 2014). The T variants of a history run as one batch.
``gradient``: gradient × input (Shrikumar et al., 2017; Ancona et al., ICLR 2018) at the token
embeddings — the sum over the hidden dimensions of ``x_t · ∂answer/∂x_t`` for each event's
embedding ``x_t`` (item, action, time … and position, as the encoder sums them). One backward pass
per answer. Cheaper, but less faithful (and blind to the heads' wide path over the newest
events' codes, which occlusion sees): on the order-dependent intent of ``tests/intent_builders``
removing its top events moved the intent *less* than removing random ones, where occlusion's top
event was a planted cause 61% of the time (causes are 20% of the events) and removing it moved the
probability 11x more than removing a random event.

Weights are the absolute attributions divided by their sum over the history's events, so they
are non-negative and sum to 1. Tested (``tests/explain``): removing the top-weighted events moves
an answer more than removing as many random events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from seqintent.models.batching import gather_tokens
from seqintent.models.features import EventTokens
from seqintent.models.heads import IntentNetwork
from seqintent.models.model import NextItemModel

Method = Literal["gradient", "occlusion"]
NEXT_ITEM, NEXT_ACTION = "next_item", "next_action"


def compact(rows: np.ndarray, remove: np.ndarray) -> np.ndarray:
    """History rows with the ``remove`` positions taken out, still left-padded with -1 (newest last).

    >>> compact(np.array([[-1, 4, 5, 6]]), np.array([[False, False, True, False]])).tolist()
    [[-1, -1, 4, 6]]
    """
    out = np.full_like(rows, -1)
    keep = (rows >= 0) & ~remove
    for b in range(len(rows)):
        kept = rows[b][keep[b]]
        if len(kept):
            out[b, -len(kept) :] = kept
    return out


class AnswerFunction:
    """The answers of a network for history rows, as tensors [B] that gradients can flow through.

    Parameters
    ----------
    net:
        The whole network (next item and heads).
    tokens:
        Event tokens the rows index.
    binary_names:
        Names of the yes/no heads, in head order.
    item, action:
        int [B]: the recommended item and the most likely action class of each history, fixed
        from the full history so that every variant of it is scored on the same answer.
    query_time_s:
        float [B] or None: time of the request.
    histories:
        ``(first, newest)`` event of each history, int [B] each: where the heads read the
        whole-history summary, it is counted from them (and occlusion recounts it without each
        removed event).
    summary:
        The summary [B, width] itself, in place of ``histories`` (occlusion's variants).
    """

    def __init__(
        self,
        net: IntentNetwork,
        tokens: EventTokens,
        binary_names: list[str],
        item: np.ndarray,
        action: np.ndarray | None,
        query_time_s: np.ndarray | None,
        histories: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        summary: torch.Tensor | None = None,
    ) -> None:
        self.net, self.tokens, self.binary_names = net, tokens, binary_names
        self.starts = None if histories is None else np.asarray(histories[0], np.int64)
        if summary is None and histories is not None:
            summary = net.intent_heads.summarize(tokens, *histories)
        self.summary = summary
        self.item = torch.from_numpy(np.asarray(item, np.int64))
        self.action = None if action is None else torch.from_numpy(np.asarray(action, np.int64))
        self.query_time_s = query_time_s
        self.captured: list[torch.Tensor] = []

    @classmethod
    def of_labels(cls, model: NextItemModel, tokens: EventTokens, cuts: np.ndarray) -> AnswerFunction:
        """The yes/no intent answers of ``model`` after each cut event (histories from the user's first
        event to the cut, the summary counted over them); the next-item and action answers are not
        fixed (item 1 stands in), so only :attr:`binary_names` are to be read."""
        assert model.intents is not None
        return cls(
            model.intents.network(model.network),
            tokens,
            [s.name for s in model.intents.binary_labels],
            np.ones(len(cuts), np.int64),
            None,
            None,
            (tokens.user_start[cuts], cuts),
        )

    @property
    def names(self) -> list[str]:
        return [NEXT_ITEM] + ([NEXT_ACTION] if self.action is not None else []) + self.binary_names

    def __call__(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        inputs = gather_tokens(self.tokens, rows, self.query_time_s)
        encoder = self.net.network.encoder
        self.captured = []
        hook = encoder.emb_drop.register_forward_hook(lambda _m, _i, out: self.captured.append(out))
        try:
            hidden = encoder(**inputs)
            head = self.net.network.next_item
            repeat = (
                head.repeat_scores(
                    hidden,
                    item=inputs["item"],
                    action=inputs["action"],
                    time_s=inputs["time_s"],
                    last_only=True,
                )[:, 0]
                if head.repeat
                else None
            )
            logits = head(hidden[:, -1], inputs["item"], repeat)
            out = {NEXT_ITEM: logits.gather(1, self.item[:, None])[:, 0]}
            intent_hidden = self.net.intent_hidden(inputs) if self.net.separate_pass else hidden
            action_logits, _, binary = self.net.head_logits(inputs, intent_hidden, summary=self.summary)
        finally:
            hook.remove()
        if self.action is not None:
            out[NEXT_ACTION] = torch.log_softmax(action_logits, dim=1).gather(1, self.action[:, None])[:, 0]
        for k, name in enumerate(self.binary_names):
            out[name] = binary[:, k]
        return out


def gradient_attributions(answer: AnswerFunction, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Gradient × input per event [B, T] for every answer (0 on padding)."""
    net = answer.net
    was = net.training
    net.eval()
    with torch.enable_grad():
        values = answer(rows)
        captured = answer.captured  # [pass A] or [pass A, pass B]
        out = {}
        for name, value in values.items():
            x = captured[0] if name == NEXT_ITEM or len(captured) == 1 else captured[1]
            (grad,) = torch.autograd.grad(value.sum(), x, retain_graph=True)
            out[name] = (grad * x).sum(-1).detach().numpy()
    net.train(was)
    valid = rows >= 0
    return {name: np.where(valid, a, 0.0) for name, a in out.items()}


@torch.inference_mode()
def occlusion_attributions(
    answer: AnswerFunction, rows: np.ndarray, chunk: int = 2048
) -> dict[str, np.ndarray]:
    """Change of every answer when each event alone is removed, per event [B, T] (0 on padding)."""
    net = answer.net
    was = net.training
    net.eval()
    full = {k: v.numpy() for k, v in answer(rows).items()}
    b, t = rows.shape
    out = {name: np.zeros((b, t)) for name in full}
    # variant (i, c): history i without column c, all in one batch of B * T rows
    variants = np.repeat(rows, t, axis=0)
    remove = np.tile(np.eye(t, dtype=bool), (b, 1))
    variants = compact(variants, remove)
    owner = np.repeat(np.arange(b), t)
    values: dict[str, list[np.ndarray]] = {name: [] for name in full}
    summaries = None
    if answer.summary is not None:
        assert answer.starts is not None, "build the AnswerFunction with histories=(first, newest)"
        # each variant's counts without its removed event (padding columns remove nothing)
        removed = np.where(remove, np.repeat(rows, t, axis=0), -1).max(axis=1)
        newest = rows[:, -1][owner]
        summaries = net.intent_heads.summarize(answer.tokens, answer.starts[owner], newest, removed)
    for lo in range(0, len(variants), chunk):
        part = slice(lo, lo + chunk)
        sub = AnswerFunction(
            net,
            answer.tokens,
            answer.binary_names,
            answer.item.numpy()[owner[part]],
            None if answer.action is None else answer.action.numpy()[owner[part]],
            None if answer.query_time_s is None else answer.query_time_s[owner[part]],
            summary=None if summaries is None else summaries[part],
        )
        for name, v in sub(variants[part]).items():
            values[name].append(v.numpy())
    present = rows >= 0
    for name in full:
        dropped = np.concatenate(values[name]).reshape(b, t)
        out[name] = np.where(present, full[name][:, None] - dropped, 0.0)
    net.train(was)
    return out


def normalise(attributions: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Non-negative weights per event that sum to 1 over each history's events (uniform if all 0)."""
    # in float64: float32 attributions of very different sizes do not sum back to 1 within 1e-9
    a = np.where(rows >= 0, np.abs(np.asarray(attributions, dtype=np.float64)), 0.0)
    total = a.sum(axis=1, keepdims=True)
    uniform = (rows >= 0) / np.maximum((rows >= 0).sum(axis=1, keepdims=True), 1)
    return np.where(total > 0, a / np.where(total > 0, total, 1.0), uniform)


METHODS: dict[str, Callable[[AnswerFunction, np.ndarray], dict[str, np.ndarray]]] = {
    "gradient": gradient_attributions,
    "occlusion": occlusion_attributions,
}


def event_weights(
    answer: AnswerFunction, rows: np.ndarray, method: Method = "occlusion"
) -> dict[str, np.ndarray]:
    """Weights [B, T] per answer (see :func:`normalise`) by the chosen method."""
    raw = METHODS[method](answer, rows)
    return {name: normalise(a, rows) for name, a in raw.items()}
