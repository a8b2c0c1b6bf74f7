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

Besides the encoder's state, the heads read the newest events' raw codes and the mix of actions in
the history (:class:`RecentEvents`, a "wide" path as in wide & deep models): a label such as churn
often hangs on "the last few plays were skips", which a linear model on those codes learns at once
while an encoder pre-trained for next items has to re-learn it through several layers (measured
on the simulator's content churn, ``bench/intents.py sim-content``: test AUC 0.556 with the
encoder state alone, 0.841 with the wide path).

They also read the whole-history summary (:mod:`seqintent.models.history_summary`: counts and
shares over the newest ``summary_window`` events, far beyond the encoder's window), an input of its
own [N, width] computed outside the graph from the stored history. Standardised on the training
cuts, it enters the trunk and, through a linear map, the logits themselves; training fits that
direct path first, alone (a logistic regression on the summary), so the heads start where a linear
model on those counts ends and the deep part only has to add to it. Measured on KuaiRand
(``bench/intents.py kuairand``, validation mean AUC): 0.679 without the summary, 0.688 with it in
the trunk alone, 0.693 with the direct path too, 0.715 with the path fitted first, 0.716 with the
output layer started at zero (the current session's counts then cost 0.002 there and gained 0.014,
0.012 and 0.021 on Taobao and the two simulated logs). The path as fitted is also kept: a label
whose validation AUC fine-tuning did not beat is answered by it alone (on every KuaiRand user,
churn: test 0.715 → 0.726 against LightGBM's 0.725, while like and long view keep the fine-tuned
heads).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from seqintent.models.features import DWELL_BUCKETS, GAP_BUCKETS, HOURS, WEEKDAYS, EventTokens
from seqintent.models.history_summary import summary_width, tokens_summary, tokens_summary_without
from seqintent.models.network import NextItemNetwork

# ONNX output names of IntentNetwork, in forward order.
OUTPUT_NAMES = ("next_item", "next_action", "next_family", "intents")


# Codes of the newest events that the wide path embeds (each is an input of the network), and
# the token tables' sizes other than the Dataset's own actions and families.
RECENT_FIELDS = ("action", "family", "dwell", "gap", "hour", "weekday")
FIXED_SIZES = {"dwell": DWELL_BUCKETS, "gap": GAP_BUCKETS, "hour": HOURS, "weekday": WEEKDAYS}
SUMMARY_CLIP = 6.0  # standardised summary values beyond this many spreads are clipped (rare outliers)
MIX_EXTRA = 4  # log events, log span, log mean gap, log repeats of the newest item


class RecentEvents(nn.Module):
    """The wide path: codes of the newest ``n_events`` events and the history's mix, as [N, out].

    For each of the newest ``n_events`` positions (0 = the newest) and each field of
    :data:`RECENT_FIELDS`, a learned vector per (position, field, code): a linear model on one-hot
    codes. The mix is the share of every action, family and dwell bucket among the history's
    events, the log of their count, of the span they cover, of the mean gap and of the newest
    item's repeats, through one linear layer. Everything is causal: column t reads events <= t.

    Parameters
    ----------
    n_events:
        How many of the newest events are embedded one by one.
    n_actions, n_families:
        Sizes of the action and family codes (padding included).
    out:
        Output width (the heads' hidden width).
    """

    def __init__(self, n_events: int, n_actions: int, n_families: int, out: int) -> None:
        super().__init__()
        self.n_events = n_events
        self.sizes = {"action": n_actions, "family": n_families, **FIXED_SIZES}
        offsets, total = {}, 0
        for name in RECENT_FIELDS:
            offsets[name] = total
            total += self.sizes[name]
        self.offsets, self.width = offsets, total
        self.codes = nn.Embedding(n_events * total, out)
        self.mix = nn.Linear(n_actions + n_families + DWELL_BUCKETS + MIX_EXTRA, out)
        nn.init.normal_(self.codes.weight, std=0.02)
        nn.init.normal_(self.mix.weight, std=0.02)
        nn.init.zeros_(self.mix.bias)

    def describe(self) -> dict[str, int]:
        """The constructor's arguments but ``out`` (recorded in ``intents.json``)."""
        return {
            "n_events": self.n_events,
            "n_actions": self.sizes["action"],
            "n_families": self.sizes["family"],
        }

    def inputs(self, tokens: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(codes [B, T, n_events * fields] int64, mix [B, T, M] float)`` for every column."""
        t = tokens["action"].shape[1]
        codes = []
        for k in range(self.n_events):
            for name in RECENT_FIELDS:
                # the code of the event k before each column (0, padding, before the first)
                shifted = nn.functional.pad(tokens[name], (k, 0))[:, :t]
                codes.append(shifted + (k * self.width + self.offsets[name]))
        valid = (tokens["action"] > 0).float()  # [B, T]
        seen = valid.cumsum(1)  # events up to each column
        share = [
            (tokens[name][..., None] == torch.arange(self.sizes[name], device=valid.device)).float()
            * valid[..., None]
            for name in ("action", "family", "dwell")
        ]
        shares = torch.cat(share, dim=-1).cumsum(1) / seen.clamp(min=1.0)[..., None]
        time_s = tokens["time_s"]
        first = torch.where(valid > 0, time_s, torch.full_like(time_s, float("inf"))).min(1, keepdim=True)
        span = (time_s - first.values).clamp(min=0.0)
        span = torch.where(torch.isfinite(span), span, torch.zeros_like(span))
        item = tokens["item"]
        cols = torch.arange(t, device=item.device)
        same = (item[:, :, None] == item[:, None, :]) & (item > 0)[:, None, :]  # [B, T(i), T(j)]
        repeats = (same & (cols[None, :] <= cols[:, None])[None]).float().sum(-1)  # occurrences up to i
        extra = _history_size(seen, span, repeats)
        return torch.stack(codes, dim=-1), torch.cat([shares, extra], dim=-1)

    def newest_inputs(self, tokens: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs(tokens)`` at the newest column only, without the per-column work (serving)."""
        k = self.n_events
        newest_first = torch.arange(k - 1, -1, -1)
        per_field = [
            nn.functional.pad(tokens[name], (k, 0))[:, -k:][:, newest_first] for name in RECENT_FIELDS
        ]
        offset = torch.tensor(
            [j * self.width + self.offsets[name] for j in range(k) for name in RECENT_FIELDS]
        )
        codes = torch.stack(per_field, dim=-1).reshape(per_field[0].shape[0], -1) + offset  # [B, K * fields]
        valid = (tokens["action"] > 0).float()
        seen = valid.sum(1)
        counts = [
            ((tokens[name][..., None] == torch.arange(self.sizes[name])).float() * valid[..., None]).sum(1)
            for name in ("action", "family", "dwell")
        ]
        shares = torch.cat(counts, dim=-1) / seen.clamp(min=1.0)[:, None]
        time_s = tokens["time_s"]
        first = torch.where(valid > 0, time_s, torch.full_like(time_s, float("inf"))).min(1).values
        span = (time_s[:, -1] - first).clamp(min=0.0)
        span = torch.where(torch.isfinite(span), span, torch.zeros_like(span))
        item = tokens["item"]
        repeats = ((item == item[:, -1:]) & (item > 0)).float().sum(1)
        extra = _history_size(seen, span, repeats)
        return codes, torch.cat([shares, extra], dim=-1)

    def forward(self, codes: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        """[N, out] from ``codes`` [N, n_events * fields] and ``mix`` [N, M] of N columns."""
        return self.codes(codes).sum(-2) + self.mix(mix)


def _history_size(seen: torch.Tensor, span: torch.Tensor, repeats: torch.Tensor) -> torch.Tensor:
    """Log of the events seen, their span, the mean gap and the newest item's repeats, scaled to ~[0, 1]."""
    mean_gap = span / (seen - 1.0).clamp(min=1.0)
    logs = [torch.log1p(seen) / 4.0, torch.log1p(span) / 10.0, torch.log1p(mean_gap) / 10.0]
    return torch.stack([*logs, torch.log1p(repeats) / 2.0], dim=-1)


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
    recent:
        The wide path (:class:`RecentEvents`, its ``out`` = ``head_hidden``), or None for heads on
        the encoder state alone.
    summary_window:
        Events the whole-history summary reads (0: no summary).
    summary_actions:
        Size of the action codes the summary counts (padding included).

    Returns (forward)
    -----------------
    ``(next_action [..., n_actions], next_family [..., n_families], intents [..., n_binary])`` —
    logits (class 0, "none", is ``-inf``); a task that is off gives a zero-width tensor.
    """

    def __init__(
        self,
        hidden: int,
        head_hidden: int,
        n_actions: int,
        n_families: int,
        n_binary: int,
        recent: RecentEvents | None = None,
        summary_window: int = 0,
        summary_actions: int = 0,
    ) -> None:
        super().__init__()
        self.sizes = (n_actions, n_families, n_binary)
        self.recent = recent
        self.summary_window, self.summary_actions = summary_window, summary_actions
        self.summary_width = summary_width(summary_actions, DWELL_BUCKETS) if summary_window else 0
        self.summary = nn.Linear(self.summary_width, head_hidden) if summary_window else None
        # and straight to the logits: a logistic regression on the summary from the first step,
        # which the trunk then corrects (wide & deep)
        n_out = n_actions + n_families + n_binary
        self.summary_out = nn.Linear(self.summary_width, n_out, bias=False) if summary_window else None
        # standardisation fitted on the training cuts (fit_summary_scale): shares of rare actions
        # (a like share of 0.02) would otherwise need weights far beyond what a few epochs reach.
        # Registered only with a summary, so that Model folders saved before it still load.
        self.summary_mean: torch.Tensor | None
        self.summary_scale: torch.Tensor | None
        self.register_buffer("summary_mean", torch.zeros(self.summary_width) if summary_window else None)
        self.register_buffer("summary_scale", torch.ones(self.summary_width) if summary_window else None)
        # the fitted direct path as fitted (before fine-tuning), and the output columns it answers
        # alone: labels whose validation AUC the deep heads did not beat (answer_with_fitted_path)
        self.fitted_weight: torch.Tensor | None
        self.fitted_bias: torch.Tensor | None
        self.use_fitted: torch.Tensor | None
        fitted = summary_window > 0
        self.register_buffer("fitted_weight", torch.zeros(n_out, self.summary_width) if fitted else None)
        self.register_buffer("fitted_bias", torch.zeros(n_out) if fitted else None)
        self.register_buffer("use_fitted", torch.zeros(n_out, dtype=torch.bool) if fitted else None)
        self.trunk = nn.Sequential(nn.Linear(hidden, head_hidden), nn.GELU(), nn.LayerNorm(head_hidden))
        self.out = nn.Linear(head_hidden, n_actions + n_families + n_binary)
        nn.init.normal_(self.trunk[0].weight, std=0.02)
        nn.init.zeros_(self.trunk[0].bias)
        nn.init.normal_(self.out.weight, std=0.02)
        nn.init.zeros_(self.out.bias)
        if self.summary is not None and self.summary_out is not None:
            nn.init.normal_(self.summary.weight, std=0.02)
            nn.init.zeros_(self.summary.bias)
            nn.init.zeros_(self.summary_out.weight)
            # the untrained trunk would add noise (logit spread about 0.15) to the fitted direct path
            nn.init.zeros_(self.out.weight)

    def describe_summary(self) -> dict[str, int] | None:
        """How the summary is computed (recorded in ``intents.json``), or None without one."""
        if self.summary is None:
            return None
        return {
            "window": self.summary_window,
            "n_actions": self.summary_actions,
            "dwell_buckets": DWELL_BUCKETS,
        }

    def summarize(
        self, tokens: EventTokens, starts: np.ndarray, cuts: np.ndarray, removed: np.ndarray | None = None
    ) -> torch.Tensor | None:
        """The summary [N, width] of histories ``tokens[starts[i] : cuts[i] + 1]`` (None without one),
        each without event ``removed[i]`` where given (-1: none)."""
        if self.summary is None:
            return None
        sizes = {
            "n_actions": self.summary_actions,
            "dwell_buckets": DWELL_BUCKETS,
            "window": self.summary_window,
        }
        if removed is None:
            return torch.from_numpy(tokens_summary(tokens, starts, cuts, **sizes))
        return torch.from_numpy(tokens_summary_without(tokens, starts, cuts, removed, **sizes))

    def fit_summary_scale(self, values: torch.Tensor) -> None:
        """Centre and scale the summary's columns by their mean and spread over ``values`` [N, width]."""
        if self.summary_mean is None or self.summary_scale is None or len(values) == 0:
            return
        std = values.double().std(0, unbiased=False)
        self.summary_mean.copy_(values.double().mean(0).float())
        self.summary_scale.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)).float())

    def standardised(self, summary: torch.Tensor) -> torch.Tensor:
        """The summary centred, scaled and clipped as the heads read it."""
        assert self.summary_mean is not None and self.summary_scale is not None
        return ((summary - self.summary_mean) / self.summary_scale).clamp(-SUMMARY_CLIP, SUMMARY_CLIP)

    def summary_logits(self, summary: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The logits of the direct path alone (plus the output bias): the logistic regression on the
        summary that training fits first (:meth:`forward`'s split and padding)."""
        assert self.summary_out is not None
        a, f, _ = self.sizes
        logits = self.summary_out(self.standardised(summary)) + self.out.bias
        return _no_padding(logits[..., :a]), _no_padding(logits[..., a : a + f]), logits[..., a + f :]

    def keep_fitted_path(self) -> None:
        """Remember the direct path as it is now (just fitted): the logistic regression a label
        falls back to when fine-tuning does not beat it (:meth:`answer_with_fitted_path`)."""
        assert self.summary_out is not None
        assert self.fitted_weight is not None and self.fitted_bias is not None
        self.fitted_weight.copy_(self.summary_out.weight.detach())
        self.fitted_bias.copy_(self.out.bias.detach())

    def answer_with_fitted_path(self, columns: torch.Tensor) -> None:
        """Output columns (bool [n_out]) answered by the remembered fitted path alone."""
        assert self.use_fitted is not None
        self.use_fitted.copy_(columns)

    def label_columns(self, kind: str, binary_index: int | None = None) -> torch.Tensor:
        """Bool [n_out] mask of one label's output columns: ``next_action``, ``next_family`` or the
        binary label at ``binary_index``."""
        a, f, b = self.sizes
        mask = torch.zeros(a + f + b, dtype=torch.bool)
        if kind == "next_action":
            mask[:a] = True
        elif kind == "next_family":
            mask[a : a + f] = True
        else:
            assert binary_index is not None
            mask[a + f + binary_index] = True
        return mask

    def forward(
        self,
        hidden: torch.Tensor,
        recent: tuple[torch.Tensor, torch.Tensor] | None = None,
        summary: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits from hidden states [N, H] and, where the heads read them, the wide path's inputs
        and the whole-history summary [N, width] of the same N histories."""
        a, f, _ = self.sizes
        pre = self.trunk[0](hidden)
        if self.recent is not None:
            if recent is None:
                raise ValueError("these heads read the newest events: pass recent=(codes, mix)")
            pre = pre + self.recent(*recent)
        if self.summary is not None:
            if summary is None:
                raise ValueError("these heads read the whole-history summary: pass summary [N, width]")
            standard = self.standardised(summary)
            pre = pre + self.summary(standard)
        logits = self.out(self.trunk[2](self.trunk[1](pre)))
        if self.summary_out is not None:
            logits = logits + self.summary_out(standard)
        if self.use_fitted is not None and self.fitted_weight is not None and self.fitted_bias is not None:
            fitted = standard @ self.fitted_weight.T + self.fitted_bias
            logits = torch.where(self.use_fitted, fitted, logits)
        return _no_padding(logits[..., :a]), _no_padding(logits[..., a : a + f]), logits[..., a + f :]


def _no_padding(logits: torch.Tensor) -> torch.Tensor:
    """Class 0 (padding: no action / family) is never an answer: its logit is ``-inf``."""
    if logits.shape[-1] == 0:  # the task is off (a size fixed at construction)
        return logits
    return torch.cat([torch.full_like(logits[..., :1], float("-inf")), logits[..., 1:]], dim=-1)


class IntentNetwork(nn.Module):
    """The next-item network plus intent heads: one forward gives every answer.

    Inputs are those of :class:`~seqintent.models.network.NextItemNetwork` (``INPUT_NAMES``), then
    ``summary`` [B, width] where the heads read the whole-history summary; outputs are
    ``OUTPUT_NAMES``: next-item logits [B, V], next-action logits [B, A],
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

    def head_logits(
        self,
        inputs: dict[str, torch.Tensor],
        hidden: torch.Tensor,
        at: tuple[torch.Tensor, torch.Tensor] | None = None,
        summary: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Head logits at the newest column, or at columns ``at = (rows, cols)`` (training cuts).

        ``hidden`` is the intent pass's [B, T, H] for ``inputs``; ``summary`` the whole-history
        summary of each history (of each cut with ``at``), where the heads read one.
        """
        heads = self.intent_heads
        recent = None
        if heads.recent is not None:
            if at is None:
                recent = heads.recent.newest_inputs(inputs)
            else:
                codes, mix = heads.recent.inputs(inputs)
                recent = (codes[at], mix[at])
        return heads(hidden[:, -1] if at is None else hidden[at], recent, summary)

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
        summary: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        encoder = self.network.encoder
        tokens = (item, action, family, category, gap, hour, weekday, dwell)
        if self.separate_pass:
            # both passes in one batch: the same arithmetic, each encoder operation called once
            # (the served Taobao graph: 5 % less time at a batch of one)
            both = encoder(
                *(torch.cat([x, x]) for x in tokens),
                torch.cat([next_gap, torch.zeros_like(next_gap)]),
                torch.cat([time_s, time_s]),
            )
            hidden, intent_hidden = both[: item.shape[0]], both[item.shape[0] :]
        else:
            hidden = intent_hidden = encoder(*tokens, next_gap, time_s)
        head = self.network.next_item
        repeat = (
            head.repeat_scores(hidden, item=item, action=action, time_s=time_s, last_only=True)[:, 0]
            if head.repeat
            else None
        )
        next_item = head(hidden[:, -1], item, repeat)
        inputs = {
            "item": item,
            "action": action,
            "family": family,
            "dwell": dwell,
            "gap": gap,
            "hour": hour,
            "weekday": weekday,
            "time_s": time_s,
        }
        next_action, next_family, intents = self.head_logits(inputs, intent_hidden, summary=summary)
        return next_item, next_action, next_family, intents
