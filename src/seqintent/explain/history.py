"""Histories to predict from: canonical events (a JSONL file, or dicts) or a user of a Dataset.

A history is turned into the model's event tokens with the model's own vocabularies, so it needs
nothing but the Model folder. Each event is a canonical event:

``user_id`` (required), ``ts`` (epoch milliseconds or ISO-8601 text; needed when the model uses
time), ``action`` (a canonical action, or a known synonym such as ``pv`` / ``purchase``),
``item_id``, and optional ``category``, ``dwell_s``.

An item the model never saw is kept as an unknown item (it still counts as an event); an action
the model never saw (a canonical one absent from its training log) cannot be embedded, so the
event is left out and counted in ``skipped``. A malformed event is an error naming its line and key.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.data import Dataset
from seqintent.errors import DataError, close_names
from seqintent.models.features import DWELL_BUCKETS, GAP_BUCKETS, EventTokens, log_bucket
from seqintent.models.model import NextItemModel
from seqintent.schema.actions import CANONICAL_ACTIONS, canonical_action
from seqintent.schema.columns import Columns, SequenceFields, Splits, Vocabularies

UNKNOWN_ACTION = "unknown_action"


@dataclass
class Histories:
    """Several users' histories as event tokens, with what predictions show about each event.

    ``tokens`` holds user ``b``'s events at ``offsets[b]:offsets[b + 1]`` (oldest first);
    ``item_ids`` / ``actions`` / ``categories`` are the raw texts of every event, ``ts_ms`` its
    time (None without time), ``dwell_s`` its dwell (NaN when unknown).
    """

    user_ids: list[str]
    tokens: EventTokens
    item_ids: list[str | None]
    actions: list[str]
    categories: list[str | None]
    ts_ms: np.ndarray | None
    dwell_s: np.ndarray
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.user_ids)

    def span(self, b: int) -> tuple[int, int]:
        return int(self.tokens.offsets[b]), int(self.tokens.offsets[b + 1])


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Canonical events from a JSONL file (one JSON object per line; blank lines allowed).

    Raises
    ------
    DataError
        If the file is missing or a line is not a JSON object (the message names the line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such events file", file=str(path), fix="give a JSONL file of canonical events")
    events = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"not valid JSON: {exc.msg}", file=str(path), line=line_no) from None
            if not isinstance(event, dict):
                raise DataError("each line must be a JSON object (one event)", file=str(path), line=line_no)
            event["_line"] = line_no
            events.append(event)
    return events


def _time_ms(value: Any, line: int | None, file: str | None) -> int:
    if isinstance(value, bool):
        raise DataError(
            "ts must be epoch milliseconds or ISO-8601 text", file=file, line=line, key="ts", value=value
        )
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return int(parsed.timestamp() * 1000)
    raise DataError(
        "ts must be epoch milliseconds or ISO-8601 text",
        file=file,
        line=line,
        key="ts",
        value=value,
        fix="write e.g. 1700000000000 or '2024-05-01T13:45:00Z'",
    )


def histories_from_events(
    model: NextItemModel, events: list[dict[str, Any]], *, file: str | None = None
) -> Histories:
    """Group canonical events by user (first appearance order), sort each by time, tokenise.

    Raises
    ------
    DataError
        If an event lacks ``user_id`` or ``action``, names an action that is not canonical, or has
        a bad ``ts`` / ``dwell_s``; the message names the line (JSONL) or position and the key.
    """
    spec = model.spec
    actions = model.vocabs[Vocabularies.ACTIONS]
    items = model.vocabs[Vocabularies.ITEMS]
    categories = model.vocabs[Vocabularies.CATEGORIES]
    by_user: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, dict[str, int]] = {}
    for position, event in enumerate(events):
        line = event.get("_line", position + 1)
        user = event.get(Columns.USER)
        if user is None or user == "":
            raise DataError("event has no user_id", file=file, line=line, key=Columns.USER)
        raw_action = event.get(Columns.ACTION)
        if raw_action is None:
            raise DataError("event has no action", file=file, line=line, key=Columns.ACTION)
        action = canonical_action(str(raw_action))
        if action is None:
            raise DataError(
                "not a canonical action",
                file=file,
                line=line,
                key=Columns.ACTION,
                value=raw_action,
                candidates=close_names(str(raw_action), CANONICAL_ACTIONS),
                fix="send canonical actions (see `seqintent actions`)",
            )
        if action not in actions:
            counts = skipped.setdefault(str(user), {})
            counts[UNKNOWN_ACTION] = counts.get(UNKNOWN_ACTION, 0) + 1
            by_user.setdefault(str(user), [])
            continue
        ts = None
        if spec.has_time:
            if event.get(Columns.TIME) is None:
                raise DataError(
                    "event has no ts and the model reads time", file=file, line=line, key=Columns.TIME
                )
            ts = _time_ms(event[Columns.TIME], line, file)
        dwell = event.get(Columns.DWELL)
        if dwell is not None and (isinstance(dwell, bool) or not isinstance(dwell, (int, float))):
            raise DataError(
                "dwell_s must be a number of seconds", file=file, line=line, key=Columns.DWELL, value=dwell
            )
        by_user.setdefault(str(user), []).append(
            {
                "ts": ts,
                "action": action,
                "item": None if event.get(Columns.ITEM) is None else str(event[Columns.ITEM]),
                "category": None if event.get(Columns.CATEGORY) is None else str(event[Columns.CATEGORY]),
                "dwell": np.nan if dwell is None else float(dwell),
                "order": position,
            }
        )
    rows: list[dict[str, Any]] = []
    lengths = []
    for evs in by_user.values():
        evs.sort(key=lambda e: (e["ts"] if e["ts"] is not None else 0, e["order"]))
        rows.extend(evs)
        lengths.append(len(evs))
    item_idx = np.array(
        [items.index_of(r["item"], 0) if r["item"] is not None else 0 for r in rows], np.int64
    )
    action_idx = np.array([actions.index_of(r["action"]) for r in rows], np.int64)
    cat_idx = np.array(
        [categories.index_of(r["category"], 0) if r["category"] is not None else 0 for r in rows], np.int64
    )
    profile = model.intents.profile if model.intents is not None else None
    if profile is not None:
        from_item = profile.item_category[np.minimum(item_idx, len(profile.item_category) - 1)]
        cat_idx = np.where(cat_idx > 0, cat_idx, from_item)
    ts = np.array([r["ts"] for r in rows], np.int64) if spec.has_time else None
    tokens = _tokens(model, lengths, item_idx, action_idx, cat_idx, ts, np.array([r["dwell"] for r in rows]))
    return Histories(
        user_ids=list(by_user),
        tokens=tokens,
        item_ids=[r["item"] for r in rows],
        actions=[r["action"] for r in rows],
        categories=[r["category"] or categories.value_of(int(c)) for r, c in zip(rows, cat_idx, strict=True)],
        ts_ms=ts,
        dwell_s=np.array([r["dwell"] for r in rows], np.float64),
        skipped=skipped,
    )


def _tokens(
    model: NextItemModel,
    lengths: list[int],
    item: np.ndarray,
    action: np.ndarray,
    category: np.ndarray,
    ts_ms: np.ndarray | None,
    dwell_s: np.ndarray,
) -> EventTokens:
    spec = model.spec
    n = len(item)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    family = np.asarray(spec.action_family, np.int64)[np.clip(action, 0, len(spec.action_family) - 1)]
    zeros = np.zeros(n, np.int64)
    hour = weekday = gap = zeros
    time_s = np.zeros(n, np.float64)
    if ts_ms is not None and n:
        time_s = ts_ms / 1000.0
        local = pa.array(ts_ms).cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("ms", tz=spec.timezone))
        hour = pc.hour(local).to_numpy().astype(np.int64) + 1
        weekday = pc.day_of_week(local).to_numpy().astype(np.int64) + 1
        seconds = np.full(n, np.nan)
        seconds[1:] = np.diff(time_s)
        seconds[offsets[:-1][np.diff(offsets) > 0]] = np.nan  # a user's first event has no gap
        gap = log_bucket(seconds, GAP_BUCKETS)
    tokens = EventTokens(
        offsets=offsets,
        item=item,
        action=action,
        family=family,
        category=np.where(category < spec.n_categories, category, 0),
        gap=gap,
        hour=hour,
        weekday=weekday,
        dwell=log_bucket(dwell_s, DWELL_BUCKETS) if spec.has_dwell else zeros,
        time_s=time_s,
        split=np.full(n, Splits.TEST, np.int8),
    )
    if n == 0:  # every history is empty: one padding event that no history holds, so batches can be built
        for name in ("item", "action", "family", "category", "gap", "hour", "weekday", "dwell"):
            setattr(tokens, name, np.zeros(1, np.int64))
        tokens.time_s, tokens.split = np.zeros(1), np.full(1, Splits.TEST, np.int8)
    return tokens


def histories_from_dataset(model: NextItemModel, dataset: Dataset, user_ids: list[str]) -> Histories:
    """The whole histories of some users of a Dataset (the one the model was trained on).

    Raises
    ------
    DataError
        If a user is not in the Dataset (the message lists close ids).
    ArtifactError
        If the Dataset's items differ from the model's.
    """
    model.check_dataset(dataset)
    users = dataset.vocab(Vocabularies.USERS)
    index = []
    for user in user_ids:
        if str(user) not in users:
            raise DataError(
                "no such user in the Dataset",
                file=str(dataset.path),
                key=Columns.USER,
                value=user,
                candidates=close_names(str(user), [v for v in users.values[:100000] if v is not None]),
            )
        index.append(users.index_of(str(user)))
    full = EventTokens.from_dataset(dataset, model.spec)
    seq = dataset.sequences
    spans = [(int(full.offsets[u]), int(full.offsets[u + 1])) for u in index]
    events = np.concatenate([np.arange(a, b) for a, b in spans]) if spans else np.zeros(0, np.int64)
    lengths = [b - a for a, b in spans]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = EventTokens(
        offsets=offsets,
        **{
            name: getattr(full, name)[events]
            for name in (
                "item",
                "action",
                "family",
                "category",
                "gap",
                "hour",
                "weekday",
                "dwell",
                "time_s",
                "split",
            )
        },
    )
    items, actions, cats = (
        dataset.vocab(v) for v in (Vocabularies.ITEMS, Vocabularies.ACTIONS, Vocabularies.CATEGORIES)
    )
    dwell = (
        np.asarray(seq[SequenceFields.DWELL], np.float64)[events]
        if SequenceFields.DWELL in seq
        else np.full(len(events), np.nan)
    )
    ts = np.asarray(seq[SequenceFields.TIME], np.int64)[events] if dataset.has_time else None
    return Histories(
        user_ids=[str(u) for u in user_ids],
        tokens=tokens,
        item_ids=[items.value_of(int(i)) for i in tokens.item],
        actions=[str(actions.value_of(int(a))) for a in tokens.action],
        categories=[cats.value_of(int(c)) for c in tokens.category],
        ts_ms=ts,
        dwell_s=dwell,
    )
