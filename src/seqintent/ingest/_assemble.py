"""From sorted events to the Dataset's arrays: cleaning rules, vocabularies, gaps, sessions, splits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from seqintent.data.vocab import Vocabulary
from seqintent.ingest import _derive
from seqintent.ingest._clean import duplicate_mask, kcore_mask, misclick_mask
from seqintent.ingest._order import Coded, SortedEvents
from seqintent.ingest._vocab import action_vocab, frequency_vocab, id_text, user_vocab
from seqintent.schema.actions import CANONICAL_ACTIONS
from seqintent.schema.columns import DropReasons, SequenceFields, Splits, Vocabularies
from seqintent.schema.config import DatasetConfig


@dataclass
class Assembled:
    """The kept events as sequence arrays, with their vocabularies and what the rules dropped."""

    kept: np.ndarray  # positions (in the sorted events) of kept events
    offsets: np.ndarray
    fields: dict[str, np.ndarray]
    vocabs: dict[str, Vocabulary]
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_by_source: dict[int, Counter[str]] = field(default_factory=dict)
    kept_by_source: dict[int, int] = field(default_factory=dict)
    n_sessions: int = 0


def _apply(alive: np.ndarray, mask: np.ndarray, reason: str, events: SortedEvents, out: Assembled) -> None:
    mask &= alive
    n = int(mask.sum())
    out.dropped[reason] += n
    if n and events.source is not None:
        for src, count in enumerate(np.bincount(events.source[mask])):
            if count:
                out.dropped_by_source.setdefault(src, Counter())[reason] += int(count)
    alive &= ~mask


def _indexed(coded: Coded | None, kept: np.ndarray) -> tuple[np.ndarray, Vocabulary]:
    """Vocabulary indices of a coded column at the kept events (0 = none)."""
    if coded is None or len(coded.values) == 0:  # no such field, or never a value
        return np.zeros(len(kept), dtype=np.int32), Vocabulary([None], [0], padded=True)
    codes = coded.codes[kept]
    counts = np.bincount(codes[codes >= 0], minlength=len(coded.values))
    vocab, remap = frequency_vocab(coded.values, counts)
    return np.where(codes >= 0, remap[np.maximum(codes, 0)], 0).astype(np.int32), vocab


def assemble(config: DatasetConfig, events: SortedEvents) -> Assembled:
    """Apply misclick, duplicate and k-core rules, then build vocabularies and per-event arrays."""
    n = len(events)
    out = Assembled(
        kept=np.empty(0, dtype=np.int64), offsets=np.zeros(1, dtype=np.int64), fields={}, vocabs={}
    )
    alive = np.ones(n, dtype=bool)
    user_run = events.user.codes  # dense, in sort order: one code per user
    item_codes = events.item.codes if events.item is not None else np.full(n, -1, dtype=np.int32)
    cleaning = config.cleaning
    if cleaning.min_dwell_s is not None:
        actions = np.array([CANONICAL_ACTIONS.index(a) for a in cleaning.misclick_actions], dtype=np.int16)
        _apply(
            alive,
            misclick_mask(events.action, events.dwell, actions, cleaning.min_dwell_s),
            DropReasons.MISCLICK,
            events,
            out,
        )
    if events.ts is not None and cleaning.dedup_within_s is not None:
        within = round(cleaning.dedup_within_s * 1000)
        dup = duplicate_mask(user_run, item_codes, events.action, events.ts, alive, within_ms=within)
        _apply(alive, dup, DropReasons.DUPLICATE, events, out)
    if cleaning.kcore is not None:
        core = kcore_mask(
            user_run, item_codes, alive, min_user=cleaning.kcore.users, min_item=cleaning.kcore.items
        )
        _apply(alive, core, DropReasons.KCORE, events, out)

    kept = np.flatnonzero(alive)
    out.kept = kept
    if events.source is not None:
        out.kept_by_source = {s: int(c) for s, c in enumerate(np.bincount(events.source[kept])) if c}
    runs = user_run[kept]
    first = np.ones(len(kept), dtype=bool)
    first[1:] = runs[1:] != runs[:-1]
    starts = np.flatnonzero(first)
    out.offsets = np.append(starts, len(kept)).astype(np.int64)
    user_ids = id_text(events.user.values.take(pa.array(events.user.codes[kept[starts]], type=pa.int64())))
    out.vocabs[Vocabularies.USERS] = user_vocab(user_ids, np.diff(out.offsets))

    fields: dict[str, np.ndarray] = {}
    fields[SequenceFields.ITEM], out.vocabs[Vocabularies.ITEMS] = _indexed(events.item, kept)
    fields[SequenceFields.CATEGORY], out.vocabs[Vocabularies.CATEGORIES] = _indexed(events.category, kept)
    device, out.vocabs[Vocabularies.DEVICES] = _indexed(events.device, kept)
    if events.device is not None:
        fields[SequenceFields.DEVICE] = device
    action = events.action[kept]
    vocab, remap = action_vocab(np.bincount(action, minlength=len(CANONICAL_ACTIONS)))
    out.vocabs[Vocabularies.ACTIONS] = vocab
    fields[SequenceFields.ACTION] = remap[action].astype(np.int16)

    ts = events.ts[kept] if events.ts is not None else None
    if ts is not None:
        fields[SequenceFields.TIME] = ts
    fields[SequenceFields.GAP] = _derive.gaps_s(ts, out.offsets)
    session_codes = events.session.codes[kept] if events.session is not None else None
    fields[SequenceFields.SESSION], out.n_sessions = _derive.session_index(
        out.offsets, ts=ts, gap_s=config.sessions.gap_s, session_codes=session_codes
    )
    for name, values in ((SequenceFields.DWELL, events.dwell), (SequenceFields.AMOUNT, events.amount)):
        if values is not None:
            fields[name] = values[kept].astype(np.float32)
    fields[SequenceFields.SPLIT] = _split(config, out.offsets, ts, user_ids, events, kept)
    out.fields = fields
    return out


def _split(
    config: DatasetConfig,
    offsets: np.ndarray,
    ts: np.ndarray | None,
    user_ids: list[str],
    events: SortedEvents,
    kept: np.ndarray,
) -> np.ndarray:
    split = config.split
    if split.kind == "leave_one_out":
        return _derive.leave_one_out(offsets)
    if split.kind == "temporal":
        assert ts is not None  # the config requires time on every source for a temporal split
        return _derive.temporal(ts, split)
    if split.kind == "by_user":
        return _derive.by_user(offsets, user_ids, split)
    per_source = np.array(
        [Splits.code(s.split) if s.split is not None else Splits.TRAIN for s in config.sources], dtype=np.int8
    )
    if events.source is None:
        return np.full(len(kept), per_source[0], dtype=np.int8)
    return per_source[events.source[kept]]
