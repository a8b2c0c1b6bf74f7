"""Intent heads on the shared encoder, and the whole network (next item + every head) in one forward.

The heads read the encoder's hidden state at the newest event of a history and answer the labels of
:mod:`seqintent.models.intent_config`: a distribution over next actions and over next action
families, and one logit per yes/no label (purchase within 24 h, churn …). They share a small
trunk (``Linear → GELU → LayerNorm``), then one linear output per task group.

The intent pass reads the history without the "time to the next event" feature: at a cut it is
the time until the future event — exactly what churn asks — so the heads must not see it. The
next-item pass keeps it (time to the request). :class:`IntentNetwork` runs both passes; the second
only where the encoder embeds that feature, a choice fixed at construction, so the forward pass has
no data-dependent control flow and exports to ONNX.
"""

from __future__ import annotations

import torch
from torch import nn

from seqintent.models.network import NextItemNetwork

# ONNX output names of IntentNetwork, in forward order.
OUTPUT_NAMES = ("next_item", "next_action", "next_family", "intents")


class IntentHeads(nn.Module):
    """Logits of every intent task from hidden states ``[..., H]``.

    Parameters
    ----------
    hidden:
        Encoder width H.
    head_hidden:
        Width of the shared trunk.
    n_actions, n_families:
        Classes of the next-action / next-family heads (0 when the task is off).
    n_binary:
        Number of yes/no labels.

    Returns (forward)
    -----------------
    ``(next_action [..., n_actions], next_family [..., n_families], intents [..., n_binary])`` —
    logits (class 0, "none", is ``-inf``); a task that is off gives a zero-width tensor.
    """

    def __init__(self, hidden: int, head_hidden: int, n_actions: int, n_families: int, n_binary: int) -> None:
        super().__init__()
        self.sizes = (n_actions, n_families, n_binary)
        self.trunk = nn.Sequential(nn.Linear(hidden, head_hidden), nn.GELU(), nn.LayerNorm(head_hidden))
        self.out = nn.Linear(head_hidden, n_actions + n_families + n_binary)
        nn.init.normal_(self.trunk[0].weight, std=0.02)
        nn.init.zeros_(self.trunk[0].bias)
        nn.init.normal_(self.out.weight, std=0.02)
        nn.init.zeros_(self.out.bias)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a, f, _ = self.sizes
        logits = self.out(self.trunk(hidden))
        return _no_padding(logits[..., :a]), _no_padding(logits[..., a : a + f]), logits[..., a + f :]


def _no_padding(logits: torch.Tensor) -> torch.Tensor:
    """Class 0 (padding: no action / family) is never an answer: its logit is ``-inf``."""
    if logits.shape[-1] == 0:  # the task is off (a size fixed at construction)
        return logits
    return torch.cat([torch.full_like(logits[..., :1], float("-inf")), logits[..., 1:]], dim=-1)


class IntentNetwork(nn.Module):
    """The next-item network plus intent heads: one forward gives every answer.

    Inputs are those of :class:`~seqintent.models.network.NextItemNetwork` (``INPUT_NAMES``);
    outputs are ``OUTPUT_NAMES``: next-item logits [B, V], next-action logits [B, A],
    next-family logits [B, F] and yes/no intent logits [B, K] at the newest event.
    """

    def __init__(self, network: NextItemNetwork, heads: IntentHeads) -> None:
        super().__init__()
        self.network = network
        self.intent_heads = heads
        self.separate_pass = network.encoder.use_time

    def intent_hidden(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Hidden states [B, T, H] of the intent pass (the time to the next event hidden)."""
        blind = dict(inputs, next_gap=torch.zeros_like(inputs["next_gap"]))
        return self.network.encoder(**blind)

    def forward(
        self,
        item: torch.Tensor,
        action: torch.Tensor,
        family: torch.Tensor,
        category: torch.Tensor,
        gap: torch.Tensor,
        hour: torch.Tensor,
        weekday: torch.Tensor,
        dwell: torch.Tensor,
        next_gap: torch.Tensor,
        time_s: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        encoder = self.network.encoder
        hidden = encoder(item, action, family, category, gap, hour, weekday, dwell, next_gap, time_s)
        head = self.network.next_item
        repeat = (
            head.repeat_scores(hidden, item=item, action=action, time_s=time_s, last_only=True)[:, 0]
            if head.repeat
            else None
        )
        next_item = head(hidden[:, -1], item, repeat)
        if self.separate_pass:
            blind = torch.zeros_like(next_gap)
            hidden = encoder(item, action, family, category, gap, hour, weekday, dwell, blind, time_s)
        next_action, next_family, intents = self.intent_heads(hidden[:, -1])
        return next_item, next_action, next_family, intents
