"""``predict``: every answer of a Model for a user's history, in one JSON-able object per user.

>>> results = predict("models/taobao", events="history.jsonl")            # doctest: +SKIP
>>> results[0]["intents"][0]                                               # doctest: +SKIP
{'label': 'purchase_24h', 'kind': 'within', 'horizon': '24h', 'probability': 0.31}

Each result has

``user_id``, ``n_events``, ``skipped`` (events left out, by reason)
``next_items``
    top ``k`` ``[{item, score, rank}]``; ``score`` is the probability of being the next item (the
    cold-start blend's when ``cold_start``); items of excluded categories are left out unless
    ``honour_exclusions=False``.
``next_action`` (and ``next_family``)
    the calibrated distribution ``{action: probability}``, most likely first.
``intents``
    ``[{label, kind, horizon, probability}]``, calibrated, horizons counted from the newest event.
``interests``, ``exclusions``
    see :mod:`seqintent.explain.interests`.
``cold_start``, ``segment``
    whether the history is too short to trust (at most ``cold_start.max_events`` events) and the
    user's segment used by the blend (None: everyone).
``explanation``
    per answer (``next_item``, ``next_action``, each intent): ``{"events": [{position, ts, action,
    item, category, weight}], "other": w}`` — the top ``explain_top`` events by weight and the
    weight of the rest; weights sum to 1 (see :mod:`seqintent.explain.attribution`).
``rationale``
    a sentence per answer and one for interests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seqintent.data import Dataset
from seqintent.errors import ConfigError
from seqintent.explain.attribution import NEXT_ACTION, NEXT_ITEM, AnswerFunction, Method, event_weights
from seqintent.explain.history import Histories, histories_from_dataset, histories_from_events, read_events
from seqintent.explain.interests import interests_and_exclusions
from seqintent.explain.rationale import action_sentence, intent_sentence, interest_sentence, item_sentence
from seqintent.models.base import HistoryBatch
from seqintent.models.calibration import softmax
from seqintent.models.inference import infer, require_intents
from seqintent.models.intents import family_name
from seqintent.models.model import NextItemModel, model_rows
from seqintent.schema.columns import Vocabularies


def predict(
    model: NextItemModel | str | Path,
    *,
    events: list[dict[str, Any]] | str | Path | None = None,
    dataset: Dataset | str | Path | None = None,
    users: list[str] | None = None,
    k: int = 10,
    honour_exclusions: bool = True,
    explain: Method | None = "occlusion",
    explain_top: int = 5,
    now_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Answers for each user's history: events given (a JSONL path or dicts), or users of a Dataset.

    Parameters
    ----------
    model:
        A Model folder (or loaded model) trained with intent heads.
    events:
        Canonical events of one or more users (see :mod:`seqintent.explain.history`).
    dataset, users:
        Instead of ``events``: the whole histories of these users of a Dataset.
    k:
        Next items returned.
    honour_exclusions:
        Leave items of the user's excluded categories out of ``next_items``.
    explain:
        Attribution method (``"occlusion"``, ``"gradient"``) or None for no explanation.
    explain_top:
        Events listed per answer in the explanation.
    now_ms:
        Time of the request (epoch ms) for "time since the last event"; None: right after it.

    Raises
    ------
    ConfigError
        If neither or both of ``events`` and ``dataset`` are given, or ``users`` is missing.
    DataError
        If an event is malformed or a user unknown (the message names where).
    NotFittedError
        If the model has no intent heads.
    """
    if not isinstance(model, NextItemModel):
        model = NextItemModel.from_pretrained(model)
    require_intents(model)
    if (events is None) == (dataset is None):
        raise ConfigError(
            "give either events or a dataset with users",
            fix="--events FILE.jsonl, or --dataset DIR --user ID",
        )
    if events is not None:
        file = None
        if isinstance(events, (str, Path)):
            file = str(events)
            events = read_events(events)
        histories = histories_from_events(model, events, file=file)
    else:
        if not users:
            raise ConfigError("a dataset needs users to predict for", key="users", fix="pass --user ID")
        dataset = dataset if isinstance(dataset, Dataset) else Dataset.load(dataset)
        histories = histories_from_dataset(model, dataset, [str(u) for u in users])
    return _Predictor(model, histories, k, honour_exclusions, explain, explain_top, now_ms).run()


class _Predictor:
    def __init__(
        self,
        model: NextItemModel,
        histories: Histories,
        k: int,
        honour: bool,
        explain: Method | None,
        explain_top: int,
        now_ms: int | None,
    ) -> None:
        self.model, self.h, self.k, self.honour = model, histories, k, honour
        self.explain, self.explain_top, self.now_ms = explain, explain_top, now_ms
        assert model.intents is not None
        self.state = model.intents
        self.items = model.vocabs[Vocabularies.ITEMS]
        self.actions = model.vocabs[Vocabularies.ACTIONS]
        self.categories = model.vocabs[Vocabularies.CATEGORIES]

    def run(self) -> list[dict[str, Any]]:
        h, tok = self.h, self.h.tokens
        starts, ends = tok.offsets[:-1], tok.offsets[1:]
        query = None
        if self.now_ms is not None and self.model.spec.has_time:
            query = np.full(len(h), self.now_ms / 1000.0)
        batch = HistoryBatch(tok, starts, ends, query)
        out = infer(self.model, batch)
        n_events = ends - starts
        cold = n_events <= self.state.config.cold_start.max_events
        segments = [self.state.profile.segment_of(u) for u in h.user_ids]
        blended = self.state.profile.blend(
            out.next_item, np.minimum(n_events, self.model.config.model.max_len), segments
        )
        probs = np.where(cold[:, None], np.exp(blended), softmax(out.next_item))
        results = []
        chosen_items, chosen_actions = [], []
        for b in range(len(h)):
            result, top_item, top_action = self._answer(b, out, probs[b], bool(cold[b]), segments[b])
            results.append(result)
            chosen_items.append(top_item)
            chosen_actions.append(top_action)
        if self.explain is not None and len(h):
            self._explain(results, batch, np.array(chosen_items), chosen_actions)
        return results

    def _answer(
        self, b: int, out: Any, p_items: np.ndarray, cold: bool, segment: int | None
    ) -> tuple[dict[str, Any], int, int | None]:
        h, state = self.h, self.state
        lo, hi = h.span(b)
        families = [family_name(int(f)) for f in h.tokens.family[lo:hi]]
        time_s = h.tokens.time_s[lo:hi] if h.ts_ms is not None else None
        interest = interests_and_exclusions(
            h.categories[lo:hi], families, h.dwell_s[lo:hi], time_s, state.config.interests, h.item_ids[lo:hi]
        )
        scores = p_items.copy()
        scores[0] = -np.inf
        removed = 0
        if self.honour and interest.exclusions:
            removed = self._exclude(scores, interest.exclusions, interest.by)
        top = np.argsort(-scores, kind="stable")[: self.k]
        top = top[np.isfinite(scores[top])]
        result: dict[str, Any] = {
            "user_id": h.user_ids[b],
            "n_events": hi - lo,
            "skipped": h.skipped.get(h.user_ids[b], {}),
            "cold_start": cold,
            "segment": None if segment is None else state.profile.segment_names[segment],
            "next_items": [
                {"item": self.items.value_of(int(i)), "score": round(float(scores[i]), 6), "rank": r + 1}
                for r, i in enumerate(top)
            ],
            "excluded_items_removed": removed,
        }
        top_action = None
        if out.next_action is not None:
            dist = out.next_action[b]
            order = [int(a) for a in np.argsort(-dist, kind="stable") if a > 0 and dist[a] > 0]
            result["next_action"] = {str(self.actions.value_of(a)): round(float(dist[a]), 6) for a in order}
            top_action = order[0] if order else None
        if out.next_family is not None:
            dist = out.next_family[b]
            order = [int(f) for f in np.argsort(-dist, kind="stable") if f > 0 and dist[f] > 0]
            result["next_family"] = {str(family_name(f)): round(float(dist[f]), 6) for f in order}
        result["intents"] = [
            {
                "label": spec.name,
                "kind": spec.kind,
                "horizon": spec.horizon,
                "probability": round(float(out.intents[spec.name][b]), 6),
            }
            for spec in state.binary_labels
        ]
        result["interests"] = interest.interests
        result["exclusions"] = interest.exclusions
        result["rationale"] = {
            "interests": interest_sentence(interest.interests, interest.exclusions, interest.by)
        }
        return result, int(top[0]) if len(top) else 0, top_action

    def _exclude(self, scores: np.ndarray, exclusions: list[dict[str, Any]], by: str) -> int:
        names = [x[by] for x in exclusions]
        if by == "item":
            index = np.array([self.items.index_of(str(v), 0) for v in names])
            mask = np.zeros(len(scores), dtype=bool)
            mask[index[index > 0]] = True
        else:
            codes = [self.categories.index_of(str(v), 0) for v in names]
            mask = np.isin(self.state.profile.item_category, [c for c in codes if c > 0])
            mask = mask[: len(scores)]
        removed = int((mask & np.isfinite(scores)).sum())
        scores[mask] = -np.inf
        return removed

    def _explain(
        self, results: list[dict[str, Any]], batch: HistoryBatch, items: np.ndarray, actions: list[int | None]
    ) -> None:
        h, state = self.h, self.state
        has_action = state.class_label("next_action") is not None
        action_arr = np.array([a or 0 for a in actions]) if has_action else None
        answer = AnswerFunction(
            state.network(self.model.network),
            h.tokens,
            [s.name for s in state.binary_labels],
            items,
            action_arr,
            batch.query_time_s,
            (batch.starts, batch.ends - 1),
        )
        rows = model_rows(h.tokens, batch.starts, batch.ends, self.model.config.model)
        weights = event_weights(answer, rows, self.explain or "occlusion")
        for b, result in enumerate(results):
            lo, _ = h.span(b)
            newest = h.ts_ms[batch.ends[b] - 1] if h.ts_ms is not None and batch.ends[b] > lo else None
            reference = self.now_ms if self.now_ms is not None else newest
            explanation, rationale = {}, result["rationale"]
            for name, w in weights.items():
                explanation[name] = self._events(rows[b], w[b], lo, reference)
            result["explanation"] = explanation
            if NEXT_ITEM in explanation and result["next_items"]:
                rationale[NEXT_ITEM] = item_sentence(
                    result["next_items"][0]["item"], explanation[NEXT_ITEM]["events"]
                )
            if NEXT_ACTION in explanation and result.get("next_action"):
                name, p = next(iter(result["next_action"].items()))
                rationale[NEXT_ACTION] = action_sentence(name, p, explanation[NEXT_ACTION]["events"])
            for intent in result["intents"]:
                rationale[intent["label"]] = intent_sentence(
                    intent["label"],
                    intent["probability"],
                    intent["horizon"],
                    explanation[intent["label"]]["events"],
                )

    def _events(
        self, rows: np.ndarray, weights: np.ndarray, lo: int, reference: int | None
    ) -> dict[str, Any]:
        h = self.h
        order = [t for t in np.argsort(-weights, kind="stable") if rows[t] >= 0]
        listed = []
        for t in order[: self.explain_top]:
            e = int(rows[t])
            entry: dict[str, Any] = {
                "position": e - lo,
                "action": h.actions[e],
                "item": h.item_ids[e],
                "category": h.categories[e],
                "weight": round(float(weights[t]), 6),
            }
            if h.ts_ms is not None:
                entry["ts"] = int(h.ts_ms[e])
                entry["ago_s"] = (
                    None if reference is None else max(0.0, (reference - int(h.ts_ms[e])) / 1000.0)
                )
            listed.append(entry)
        other = float(sum(weights[t] for t in order[self.explain_top :]))
        return {"events": listed, "other": round(other, 6)}
