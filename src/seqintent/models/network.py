"""The time-aware causal Transformer over event tokens, and its next-item head.

Reference: SASRec (Kang & McAuley, ICDM 2018), trained as "SASRec+" with a full-catalogue
softmax at every position (Klenitskiy & Vasilev, RecSys 2023; gSASRec / eSASRec), with time
features and an optional relative time bias in attention in the spirit of TiSASRec (Li et al.,
WSDM 2020) and HSTU (Zhai et al., ICML 2024), and an optional repeat (copy) score for items of the
history as in RepeatNet (Ren et al., AAAI 2019). With ``readout: items`` the encoder returns, at
each column, a mix of the item vectors read so far weighted by attention from the Transformer's
state, as CORE's representation-consistent encoder (Hou et al., SIGIR 2022).

Departures from SASRec: pre-norm blocks with a final LayerNorm; positions are counted from the
newest event (so the last column always means "now"); every event is a token even without an item
(a search, a login), and a token embeds the sum of its item, action, action family, category,
time-gap, hour, weekday, dwell and time-to-next embeddings (each only when the Dataset has it);
the item table is shared by input and output (tied), and with ``item_attributes`` each item's row
adds the mean embedding of its attributes (brand, categories) on both sides. The forward pass has
no data-dependent Python control flow, uses PyTorch's fused ``scaled_dot_product_attention``, and
its embedding tables are fixed at training time, so it exports to ONNX with dynamic batch and length.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from seqintent.models.config import ModelConfig
from seqintent.models.features import DWELL_BUCKETS, GAP_BUCKETS, HOURS, WEEKDAYS, InputSpec
from seqintent.models.item_attributes import ItemAttributeCodes

# The order of the network's tensor inputs (ONNX input names).
INPUT_NAMES = (
    "item",
    "action",
    "family",
    "category",
    "gap",
    "hour",
    "weekday",
    "dwell",
    "next_gap",
    "time_s",
)
RANK_BUCKETS = 32  # repeat head: distinct-item recency rank 0..31 (older ones share the last)
COUNT_BUCKETS = 16
NO_COLUMN = 1 << 30  # repeat head: occurrences 1..15 (more share the last)


def torch_log_bucket(seconds: torch.Tensor, n_buckets: int) -> torch.Tensor:
    """Log2 buckets of non-negative values as in :func:`seqintent.models.features.log_bucket` (no unknown)."""
    s = seconds.clamp(min=0.0)
    big = (2.0 + torch.floor(torch.log2(s.clamp(min=1.0)))).clamp(max=n_buckets - 1)
    return torch.where(s < 1.0, torch.ones_like(s), big).long()


class _Block(nn.Module):
    """Pre-norm Transformer block: x + Attn(LN(x)), then x + FFN(LN(x)).

    ``kept_attention``: None (the default) runs the fused attention kernel; a list makes each
    forward compute the same attention step by step and append its head-averaged probabilities
    [B, T, T] there, for an explanation that reads them (the fused kernel does not return them).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.kept_attention: list[torch.Tensor] | None = None
        self.heads = cfg.heads
        self.attn_dropout = cfg.attn_dropout
        self.norm1 = nn.LayerNorm(h)
        self.qkv = nn.Linear(h, 3 * h)
        self.proj = nn.Linear(h, h)
        self.norm2 = nn.LayerNorm(h)
        self.ffn = nn.Sequential(nn.Linear(h, cfg.ffn_mult * h), nn.GELU(), nn.Linear(cfg.ffn_mult * h, h))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        if self.kept_attention is None:
            a = F.scaled_dot_product_attention(  # [B, heads, T, H/heads]
                q, k, v, attn_mask=mask, dropout_p=self.attn_dropout if self.training else 0.0
            )
        else:
            a = self._attention_kept(q, k, v, mask)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, h)))
        return x + self.drop(self.ffn(self.norm2(x)))

    def _attention_kept(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """What the fused kernel computes (without dropout), keeping the probabilities.

        The mask is bool [B, 1, T, T] (True: may attend) or the additive float time bias
        [B, heads, T, T] with -inf where masked; every row allows at least its own column.
        """
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # [B, heads, T, T]
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        probabilities = F.softmax(scores, dim=-1)
        self.kept_attention.append(probabilities.mean(dim=1))  # type: ignore[union-attr]
        return probabilities @ v


class SequenceEncoder(nn.Module):
    """Event tokens [B, T] → hidden states [B, T, H]; column t has seen events 0..t only.

    With ``readout: items`` column t's state is a convex mix of the item vectors of columns 0..t.
    The explanation's attention roll-out (``seqintent.runtime.export``) covers the blocks only.

    Parameters
    ----------
    cfg:
        The model config (sizes, which features, time bias).
    spec:
        Embedding table sizes and what the Dataset offers; a feature the Dataset lacks is left out.
    """

    def __init__(self, cfg: ModelConfig, spec: InputSpec) -> None:
        super().__init__()
        h = cfg.hidden
        self.cfg = cfg
        self.item_emb = nn.Embedding(spec.n_items, h, padding_idx=0)
        # item attributes: per item its attribute codes (a buffer filled from the Dataset's item
        # table at training time, saved with the weights), embedded and averaged into the item's vector
        self.item_attributes: torch.Tensor | None
        codes = torch.zeros(spec.n_items, spec.item_attribute_slots, dtype=torch.int32)
        self.register_buffer("item_attributes", codes if spec.item_attribute_slots else None)
        if spec.item_attribute_slots:
            self.attribute_emb = nn.Embedding(spec.item_attribute_values, h, padding_idx=0)
        self.pos_emb = nn.Embedding(cfg.max_len, h)
        self.use_action = cfg.action_features and spec.n_actions > 2
        self.use_category = cfg.category_features and spec.n_categories > 2
        self.use_time = cfg.time_features and spec.has_time
        self.use_dwell = cfg.dwell_features and spec.has_dwell
        self.use_time_bias = cfg.time_bias and self.use_time
        if self.use_action:
            self.action_emb = nn.Embedding(spec.n_actions, h, padding_idx=0)
            self.family_emb = nn.Embedding(spec.n_families, h, padding_idx=0)
        if self.use_category:
            self.category_emb = nn.Embedding(spec.n_categories, h, padding_idx=0)
        if self.use_time:
            self.gap_emb = nn.Embedding(GAP_BUCKETS, h, padding_idx=0)
            self.next_gap_emb = nn.Embedding(GAP_BUCKETS, h, padding_idx=0)
            self.hour_emb = nn.Embedding(HOURS, h, padding_idx=0)
            self.weekday_emb = nn.Embedding(WEEKDAYS, h, padding_idx=0)
        if self.use_dwell:
            self.dwell_emb = nn.Embedding(DWELL_BUCKETS, h, padding_idx=0)
        if self.use_time_bias:
            self.time_bias = nn.Embedding(GAP_BUCKETS, cfg.heads)
            nn.init.zeros_(self.time_bias.weight)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.final_norm = nn.LayerNorm(h)
        self.item_readout = cfg.readout == "items"
        if self.item_readout:
            self.readout_q = nn.Linear(h, h)
            self.readout_k = nn.Linear(h, h)
        self.apply(_init_weights)

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
    ) -> torch.Tensor:
        """Hidden states [B, T, H] for int64 token codes [B, T] (left-padded; ``action == 0`` is padding)."""
        t = item.shape[1]
        items = self.item_vectors(item)  # [B, T, H]
        x = items
        positions = (t - 1) - torch.arange(t, device=item.device)  # distance from the newest event
        x = x + self.pos_emb(positions)[None]
        if self.use_action:
            x = x + self.action_emb(action) + self.family_emb(family)
        if self.use_category:
            x = x + self.category_emb(category)
        if self.use_time:
            x = (
                x
                + self.gap_emb(gap)
                + self.next_gap_emb(next_gap)
                + self.hour_emb(hour)
                + self.weekday_emb(weekday)
            )
        if self.use_dwell:
            x = x + self.dwell_emb(dwell)
        x = self.emb_drop(x)
        mask = self.attention_mask(action, time_s)
        for block in self.blocks:
            x = block(x, mask)
        x = self.final_norm(x)
        if self.item_readout:
            x = self._mix_items(x, self.emb_drop(items), item)
        return x

    def _mix_items(self, hidden: torch.Tensor, items: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        """Column t's mix [B, T, H] of the item vectors ``items`` of columns 0..t (those with an item),
        weighted by attention from column t's ``hidden`` state."""
        t, h = hidden.shape[1], hidden.shape[2]
        scores = self.readout_q(hidden) @ self.readout_k(hidden).transpose(1, 2) / math.sqrt(h)
        cols = torch.arange(t, device=item.device)
        kept = (cols[None, :] <= cols[:, None])[None] & (item > 0)[:, None, :]  # [B, T(query), T]
        # a column always sees itself, so a row never has nothing to mix (an item-less one mixes zeros)
        kept = kept | (cols[None, :] == cols[:, None])[None]
        weights = torch.softmax(scores.masked_fill(~kept, float("-inf")), dim=-1)
        return weights @ items

    def set_item_attributes(self, codes: np.ndarray) -> None:
        """Install every item's attribute codes [n_items, slots] (0 = none)."""
        if self.item_attributes is None or codes.shape != tuple(self.item_attributes.shape):
            have = None if self.item_attributes is None else tuple(self.item_attributes.shape)
            raise ValueError(f"attribute codes of shape {codes.shape} for a table of shape {have}")
        self.item_attributes.copy_(torch.from_numpy(np.asarray(codes, dtype=np.int32)))

    @torch.no_grad()
    def fold_item_attributes(self) -> None:
        """Add each item's attribute mean into its own row and drop the attributes (same scores).

        For an inference-only copy (the export): a graph then reads one item table, instead of
        averaging attribute embeddings over the whole catalogue at every request. The copy no longer
        matches its config's input spec, so it is not saved as a Model folder.
        """
        if self.item_attributes is None:
            return
        self.item_emb.weight.copy_(self.item_table)
        self.item_attributes = None

    def _attribute_mean(self, codes: torch.Tensor) -> torch.Tensor:
        """Mean embedding [..., H] of attribute codes [..., slots] (zeros for an item without any).

        One bag of codes per item: about 3x faster to train than gathering [..., slots, H] and
        summing (the whole catalogue on Beauty: 9 against 25 ms a step); the export folds it away.
        """
        flat = codes.reshape(-1, codes.shape[-1]).long()
        present = flat > 0
        counts = present.sum(dim=1)
        offsets = torch.cumsum(counts, 0) - counts
        bags = F.embedding_bag(flat[present], self.attribute_emb.weight, offsets, mode="mean")
        return bags.reshape(*codes.shape[:-1], -1)

    def item_vectors(self, item: torch.Tensor) -> torch.Tensor:
        """Each item's vector [..., H]: its own embedding plus the mean of its attributes'."""
        x = self.item_emb(item)
        if self.item_attributes is not None:
            x = x + self._attribute_mean(self.item_attributes[item])
        return x

    @property
    def item_table(self) -> torch.Tensor:
        """Every item's vector [V, H] (the table next-item scores are taken against)."""
        if self.item_attributes is None:
            return self.item_emb.weight
        return self.item_emb.weight + self._attribute_mean(self.item_attributes)

    def attention_mask(self, action: torch.Tensor, time_s: torch.Tensor) -> torch.Tensor:
        """Causal mask over real events: bool [B, 1, T, T], or float [B, heads, T, T] with the time bias.

        A padding column may attend to itself only, so no row of the softmax is empty.
        """
        cols = torch.arange(action.shape[1], device=action.device)
        causal = cols[None, :] <= cols[:, None]  # [T, T]: key j at or before query i
        eye = (
            cols[None, :] == cols[:, None]
        )  # (comparisons, not tril / eye: they export to every ONNX runtime)
        valid = (action > 0)[:, None, None, :]  # [B, 1, 1, T] keys
        mask = causal[None, None] & (valid | eye[None, None])  # [B, 1, T, T]
        if not self.use_time_bias:
            return mask
        distance = (time_s[:, :, None] - time_s[:, None, :]).abs()  # [B, T, T] seconds
        bias = self.time_bias(torch_log_bucket(distance, GAP_BUCKETS)).permute(0, 3, 1, 2)  # [B, heads, T, T]
        return bias.masked_fill(~mask, float("-inf"))


class NextItemHead(nn.Module):
    """Scores of every item as the next one: ``h · E[item]`` with the encoder's item table (tied).

    With ``repeat_head``, each distinct item of the history gets an extra learned score
    (RepeatNet-style copy mechanism), from its newest occurrence j before the query column i::

        q(h_i) · k(h_j) / sqrt(H) + rank(distinct items seen since j) + count(occurrences up to i)
                                  + elapsed(time_i - time_j) + action(action_j)

    so the model can learn "people come back to what they just viewed or carted" as well as the
    exceptions, and when to move on. Scores are logits: higher is more likely; the padding index 0
    scores ``-inf``.
    """

    def __init__(self, encoder: SequenceEncoder, cfg: ModelConfig, spec: InputSpec) -> None:
        super().__init__()
        self.encoder = [encoder]  # a list, so the shared table is not registered twice
        self.repeat = cfg.repeat_head
        self.cosine = cfg.item_scores == "cosine"
        self.cosine_scale = cfg.cosine_scale
        # the transition prior: per item, its top next items and their weighted bonus (zeros until
        # fitted after training, so training never sees them)
        self.prior_items: torch.Tensor | None
        self.prior_bonus: torch.Tensor | None
        top = cfg.transition_prior
        items, bonus = torch.zeros(spec.n_items, top, dtype=torch.int32), torch.zeros(spec.n_items, top)
        self.register_buffer("prior_items", items if top else None)
        self.register_buffer("prior_bonus", bonus if top else None)
        # the neighbour prior: per item, its most similar items and their weighted similarity (zeros
        # until fitted after training, as the transition prior)
        self.neighbour_items: torch.Tensor | None
        self.neighbour_weight: torch.Tensor | None
        self.neighbour_history = cfg.neighbour_history
        top = cfg.neighbour_prior
        items, weight = torch.zeros(spec.n_items, top, dtype=torch.int32), torch.zeros(spec.n_items, top)
        self.register_buffer("neighbour_items", items if top else None)
        self.register_buffer("neighbour_weight", weight if top else None)
        if self.repeat:
            self.rep_q = nn.Linear(cfg.hidden, cfg.hidden)
            self.rep_k = nn.Linear(cfg.hidden, cfg.hidden)
            self.rep_rank = nn.Embedding(RANK_BUCKETS, 1)
            self.rep_count = nn.Embedding(COUNT_BUCKETS, 1)
            self.rep_elapsed = nn.Embedding(GAP_BUCKETS, 1)
            self.rep_action = nn.Embedding(spec.n_actions, 1)
            for module in (self.rep_q, self.rep_k):
                _init_weights(module)
            for table in (self.rep_rank, self.rep_count, self.rep_elapsed, self.rep_action):
                nn.init.zeros_(table.weight)

    @property
    def item_table(self) -> torch.Tensor:
        return self.encoder[0].item_table  # [V, H]

    def scoring(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(query [N, H], table [V, H])`` whose products are the logits (before repeat scores).

        The losses take these two instead of dense logits (a full softmax never holds [N, V]).
        """
        if not self.cosine:
            return hidden, self.item_table
        return self.cosine_scale * F.normalize(hidden, dim=-1), F.normalize(self.item_table, dim=-1)

    def repeat_scores(
        self,
        hidden: torch.Tensor,
        item: torch.Tensor,
        time_s: torch.Tensor,
        *,
        action: torch.Tensor | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """Repeat scores [B, Q, T]: for query column i, the score of history column j where j is the
        newest occurrence of its item at or before i (0 elsewhere, so each item is scored once).

        The query columns are all T columns, or only the newest one with ``last_only`` (Q = 1).
        ``action`` (the history's action codes) adds the learned per-action term; without it the
        term is left out.
        """
        _, t, h = hidden.shape
        cols = torch.arange(t, device=hidden.device)
        same = (item[:, :, None] == item[:, None, :]) & (item > 0)[:, :, None]  # [B, T(j), T(j')]
        later = cols[None, :] > cols[:, None]  # [T(j), T(j')]: j' after j
        # column of the next occurrence of item_j (a constant beyond any column when none: not the
        # length, which an exported graph would freeze at the traced value)
        next_occurrence = torch.where(
            same & later[None], cols[None, None, :], torch.full_like(same, NO_COLUMN, dtype=torch.long)
        )
        next_occurrence = next_occurrence.min(dim=2).values  # [B, T(j)]
        query_cols = cols[-1:] if last_only else cols
        before = cols[None, :] <= query_cols[:, None]  # [Q, T(j)]
        newest = (
            before[None] & (next_occurrence[:, None, :] > query_cols[None, :, None]) & (item > 0)[:, None, :]
        )
        newest_f = newest.float()  # [B, Q, T(j)]
        # distinct items whose newest occurrence is after j: rank 0 is the newest item of the history
        rank = newest_f @ later.float().T  # [B, Q, T(j)]
        count = same.float() @ (cols[:, None] <= query_cols[None, :]).float()  # [B, T(j), Q]
        q = self.rep_q(hidden[:, -1:] if last_only else hidden)  # [B, Q, H]
        k = self.rep_k(hidden)  # [B, T, H]
        scores = q @ k.transpose(1, 2) / math.sqrt(h)  # [B, Q, T]
        scores = scores + self.rep_rank(rank.long().clamp(max=RANK_BUCKETS - 1)).squeeze(-1)
        scores = scores + self.rep_count(count.transpose(1, 2).long().clamp(max=COUNT_BUCKETS - 1)).squeeze(
            -1
        )
        query_time = time_s[:, -1:] if last_only else time_s
        elapsed = query_time[:, :, None] - time_s[:, None, :]  # [B, Q, T]
        scores = scores + self.rep_elapsed(torch_log_bucket(elapsed, GAP_BUCKETS)).squeeze(-1)
        if action is not None:
            scores = scores + self.rep_action(action).squeeze(-1)[:, None, :]
        return torch.where(newest, scores, torch.zeros_like(scores))

    def set_transition_prior(self, items: np.ndarray, bonus: np.ndarray) -> None:
        """Install the transition prior: ``items`` [V, N] (each item's next items) and ``bonus``
        [V, N] (the score each gets after that item, weight included; 0 switches it off)."""
        if self.prior_items is None or self.prior_bonus is None:
            raise ValueError("this head has no transition prior (model.transition_prior is 0)")
        self.prior_items.copy_(torch.from_numpy(np.asarray(items, dtype=np.int32)))
        self.prior_bonus.copy_(torch.from_numpy(np.asarray(bonus, dtype=np.float32)))

    def prior_scores(self, item: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(items [B, N], bonus [B, N])`` of the transition prior after the newest item of each
        history ``item`` [B, T] (events without an item are passed over), or None without one."""
        if self.prior_items is None or self.prior_bonus is None:
            return None
        position = torch.arange(1, item.shape[1] + 1, device=item.device)
        newest = torch.argmax((item > 0).long() * position, dim=1, keepdim=True)  # column 0 when none
        last = item.gather(1, newest).squeeze(1)  # item 0 (an all-zero row) when the history has none
        return self.prior_items[last].long(), self.prior_bonus[last]

    def set_neighbour_prior(self, items: np.ndarray, weight: np.ndarray) -> None:
        """Install the neighbour prior: ``items`` [V, N] (each item's most similar items) and
        ``weight`` [V, N] (the vote each gets from that item, weight included; 0 switches it off)."""
        if self.neighbour_items is None or self.neighbour_weight is None:
            raise ValueError("this head has no neighbour prior (model.neighbour_prior is 0)")
        self.neighbour_items.copy_(torch.from_numpy(np.asarray(items, dtype=np.int32)))
        self.neighbour_weight.copy_(torch.from_numpy(np.asarray(weight, dtype=np.float32)))

    def neighbour_scores(self, item: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(items [B, M], votes [B, M])`` of the neighbour prior: each distinct item among the
        newest ``neighbour_history`` columns of ``item`` [B, T] votes once for its neighbours (a
        repeated item votes at its newest column only), or None without one."""
        if self.neighbour_items is None or self.neighbour_weight is None:
            return None
        recent = item[:, -self.neighbour_history :]
        cols = torch.arange(recent.shape[1], device=item.device)
        later = cols[None, :] > cols[:, None]  # [T(j), T(j')]: j' after j
        seen_later = ((recent[:, :, None] == recent[:, None, :]) & later[None]).any(dim=2)
        votes = (recent > 0) & ~seen_later  # item 0 (padding, events without an item) never votes
        neighbours = self.neighbour_items[recent].long()  # [B, T, N]
        weight = self.neighbour_weight[recent] * votes[:, :, None].float()
        return neighbours.flatten(1), weight.flatten(1)

    def forward(
        self, hidden_last: torch.Tensor, item: torch.Tensor, repeat: torch.Tensor | None
    ) -> torch.Tensor:
        """Logits [B, V] from the newest hidden state [B, H], history items and repeat scores [B, T]."""
        query, table = self.scoring(hidden_last)
        logits = query @ table.T
        if repeat is not None:
            logits = logits.scatter_add(1, item, repeat)
        prior = self.prior_scores(item)
        if prior is not None:
            logits = logits.scatter_add(1, *prior)
        neighbours = self.neighbour_scores(item)
        if neighbours is not None:
            logits = logits.scatter_add(1, *neighbours)
        return torch.cat([torch.full_like(logits[:, :1], float("-inf")), logits[:, 1:]], dim=1)


class NextItemNetwork(nn.Module):
    """Encoder plus task heads; :meth:`forward` gives next-item logits [B, V] at the newest event.

    Heads live in ``self.heads`` (a ``ModuleDict``) so other tasks can add theirs on the same encoder.
    """

    def __init__(
        self, cfg: ModelConfig, spec: InputSpec, item_attributes: ItemAttributeCodes | None = None
    ) -> None:
        """``item_attributes``: the codes to install (a loaded model's come with its weights)."""
        super().__init__()
        self.encoder = SequenceEncoder(cfg, spec)
        self.heads = nn.ModuleDict({"next_item": NextItemHead(self.encoder, cfg, spec)})
        if item_attributes is not None:
            self.encoder.set_item_attributes(item_attributes.codes)

    @property
    def next_item(self) -> NextItemHead:
        return self.heads["next_item"]  # type: ignore[return-value]

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
    ) -> torch.Tensor:
        hidden = self.encoder(item, action, family, category, gap, hour, weekday, dwell, next_gap, time_s)
        head = self.next_item
        repeat = None
        if head.repeat:
            repeat = head.repeat_scores(hidden, item, time_s, action=action, last_only=True)[:, 0]
        return head(hidden[:, -1], item, repeat)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
