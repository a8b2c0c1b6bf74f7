"""Building a Model's profile: item categories, popularity, user segments and the cold-start blend.

Segments come from the Dataset's user table (static attributes such as age, region or activity
level). Which attributes define them is chosen on validation: each attribute with 2 to
``max_segments`` values is a candidate, scored by how well its segments' popularity ranks the
next items of the validation users' short histories; it is kept only if it beats plain popularity.
The blend's ``kappa`` and temperature are then chosen on the same cuts (see :meth:`Profile.blend`).
"""

from __future__ import annotations

import numpy as np

from seqintent.data import Dataset
from seqintent.models.features import EventTokens
from seqintent.models.intent_config import ColdStartConfig
from seqintent.models.profile import Profile
from seqintent.models.ranking import per_example_metrics, target_ranks
from seqintent.schema.columns import Columns, Vocabularies

TOP_ITEMS = 1000
KAPPAS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 200.0, 1e9)
TEMPERATURES = (1.0, 2.0, 4.0)
SELECT_METRIC = "NDCG@10"


def _shares(items: np.ndarray, n_items: int) -> np.ndarray:
    counts = np.bincount(items[items > 0], minlength=n_items).astype(np.float64)
    total = counts.sum()
    return (counts / total if total else counts).astype(np.float32)


def _user_attributes(dataset: Dataset, max_segments: int) -> dict[str, np.ndarray]:
    """Candidate attributes: user index → value text ("" when unknown), for attributes with 2..max values."""
    table = dataset.users_table()
    if table is None or Columns.USER not in table.column_names:
        return {}
    users = dataset.vocab(Vocabularies.USERS)
    index = users.indices_of([str(u) for u in table.column(Columns.USER).to_pylist()], default=-1)
    known = index >= 0
    out = {}
    for name in table.column_names:
        if name == Columns.USER:
            continue
        values = np.array(["" if v is None else str(v) for v in table.column(name).to_pylist()], dtype=object)
        if not 2 <= len(set(values[known])) <= max_segments:
            continue
        per_user = np.full(dataset.n_users, "", dtype=object)
        per_user[index[known]] = values[known]
        out[name] = per_user
    return out


def _segment_profile(
    base: Profile,
    names: list[str],
    user_values: np.ndarray,
    users: list[str | None],
    tokens: EventTokens,
    fit_events: np.ndarray,
) -> Profile:
    """``base`` with segments by the given per-user value texts (events of ``fit_events`` counted)."""
    segment_names, segment_of_user = np.unique(user_values, return_inverse=True)
    n_items = len(base.popularity)
    items, scores = [], []
    event_segment = segment_of_user[tokens.user]
    for s in range(len(segment_names)):
        share = _shares(tokens.item[fit_events & (event_segment == s)], n_items)
        top = np.argsort(-share, kind="stable")[:TOP_ITEMS]
        items.append(top.astype(np.int32))
        scores.append(share[top])
    width = max((len(x) for x in items), default=0)
    pad_items = np.zeros((len(items), width), np.int32)
    pad_scores = np.zeros((len(items), width), np.float32)
    for s, (i, v) in enumerate(zip(items, scores, strict=True)):
        pad_items[s, : len(i)], pad_scores[s, : len(v)] = i, v
    user_segment = {u: int(segment_of_user[k]) for k, u in enumerate(users) if u is not None}
    return Profile(
        item_category=base.item_category,
        popularity=base.popularity,
        segment_by=names,
        segment_names=[f"{'/'.join(names)}={v}" for v in segment_names],
        segment_items=pad_items,
        segment_scores=pad_scores,
        user_segment=user_segment,
        kappa=base.kappa,
    )


def _popularity_ndcg(profile: Profile, segments: list[int | None], targets: np.ndarray) -> float:
    pops = {s: profile.popularity_of(s) for s in set(segments)}
    scores = np.stack([pops[s] for s in segments]).astype(np.float64)
    scores[:, 0] = -np.inf
    ranks = target_ranks(scores, targets)
    return float(per_example_metrics(ranks, (10,))[SELECT_METRIC].mean())


def build_profile(
    dataset: Dataset,
    tokens: EventTokens,
    fit_events: np.ndarray,
    config: ColdStartConfig,
    valid_cuts: np.ndarray,
    valid_targets: np.ndarray,
) -> tuple[Profile, dict[str, float]]:
    """The profile of a Dataset, with segments chosen on ``valid_cuts``.

    Parameters
    ----------
    fit_events:
        bool [n_events]: events whose items count towards popularity (training data only).
    valid_cuts, valid_targets:
        Event indices of validation cuts and the item index of each one's next event (> 0).

    Returns
    -------
    (Profile, dict)
        The profile, and the validation NDCG@10 of each candidate segmentation (``"none"``: plain
        popularity).
    """
    n_items = len(dataset.vocab(Vocabularies.ITEMS))
    base = Profile(
        item_category=dataset.item_categories().astype(np.int32),
        popularity=_shares(tokens.item[fit_events], n_items),
    )
    users = dataset.vocab(Vocabularies.USERS)
    user_ids = [users.value_of(u) for u in range(dataset.n_users)]
    candidates = _user_attributes(dataset, config.max_segments)
    if config.segment_by is not None:
        candidates = {"/".join(config.segment_by): _joint_values(dataset, config.segment_by)}
    if not candidates:
        return base, {}
    cuts, targets = valid_cuts, valid_targets
    scores = {"none": _popularity_ndcg(base, [None] * len(cuts), targets) if len(cuts) else 0.0}
    best, best_profile = "none", base
    for name, values in candidates.items():
        profile = _segment_profile(base, name.split("/"), values, user_ids, tokens, fit_events)
        segs = [profile.user_segment.get(user_ids[u]) for u in tokens.user[cuts]]
        scores[name] = _popularity_ndcg(profile, segs, targets) if len(cuts) else 0.0
        if config.segment_by is not None or scores[name] > scores[best]:
            best, best_profile = name, profile
    return best_profile, {k: round(v, 5) for k, v in scores.items()}


def _joint_values(dataset: Dataset, names: list[str]) -> np.ndarray:
    """Per-user text of the joint values of the named user-table attributes."""
    from seqintent.errors import ConfigError

    table = dataset.users_table()
    missing = [n for n in names if table is None or n not in table.column_names]
    if missing:
        raise ConfigError(
            f"segment attributes {missing} are not in the Dataset's user table",
            key="intents.cold_start.segment_by",
            candidates=[] if table is None else [c for c in table.column_names if c != Columns.USER],
            fix="name columns of the user table (or leave segment_by null to choose on validation)",
        )
    assert table is not None
    users = dataset.vocab(Vocabularies.USERS)
    index = users.indices_of([str(u) for u in table.column(Columns.USER).to_pylist()], default=-1)
    columns = [[("" if v is None else str(v)) for v in table.column(n).to_pylist()] for n in names]
    per_user = np.full(dataset.n_users, "", dtype=object)
    for row, u in enumerate(index):
        if u >= 0:
            per_user[u] = "|".join(col[row] for col in columns)
    return per_user


def choose_blend(
    profile: Profile,
    logits: np.ndarray,
    n_events: np.ndarray,
    segments: list[int | None],
    targets: np.ndarray,
) -> tuple[float, float, dict[str, float]]:
    """The kappa and temperature of the cold-start blend with the best validation NDCG@10.

    Ties go to the smaller kappa, then to the smaller temperature (the model as it is). Returns
    ``(kappa, temperature, {"kappa=K,T=T": NDCG@10})`` and sets both on ``profile``.
    """
    results = {}
    best, best_score = (profile.kappa, profile.temperature), -1.0
    for kappa in KAPPAS:
        for temperature in TEMPERATURES:
            profile.kappa, profile.temperature = kappa, temperature
            ranks = target_ranks(profile.blend(logits, n_events, segments), targets)
            score = float(per_example_metrics(ranks, (10,))[SELECT_METRIC].mean())
            results[f"kappa={kappa:g},T={temperature:g}"] = round(score, 5)
            if score > best_score + 1e-12:
                best, best_score = (kappa, temperature), score
    profile.kappa, profile.temperature = best
    return best[0], best[1], results
