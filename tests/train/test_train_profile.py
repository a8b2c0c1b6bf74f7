"""The profile chooses user segments on validation and blends a cold user's next items with them."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqintent.models import EventTokens
from seqintent.models.intent_config import ColdStartConfig
from seqintent.schema.columns import Columns, DatasetFiles
from seqintent.train.profile import build_profile, choose_blend
from tests.dataset_builders import build_dataset


def test_segments_come_from_the_attribute_that_separates_tastes(tmp_path):
    rng = np.random.default_rng(0)
    users, items, group, noise = [], [], {}, {}
    for u in range(80):
        group[f"u{u}"] = "a" if u % 2 else "b"
        noise[f"u{u}"] = str(rng.integers(3))
        pool = range(1, 11) if u % 2 else range(11, 21)
        for _ in range(6):
            users.append(f"u{u}")
            items.append(f"i{rng.choice(list(pool))}")
    ds = build_dataset(tmp_path / "ds", user=users, item=items)
    ids = sorted(group)
    pq.write_table(
        pa.table({Columns.USER: ids, "group": [group[u] for u in ids], "noise": [noise[u] for u in ids]}),
        ds.path / DatasetFiles.USERS_TABLE,
    )
    tokens = EventTokens.from_dataset(ds)
    valid_users = np.arange(60, 80)
    fit = ~np.isin(tokens.user, valid_users)
    cuts = np.flatnonzero(
        np.isin(tokens.user, valid_users) & (np.arange(tokens.n_events) + 1 < tokens.offsets[tokens.user + 1])
    )
    profile, scores = build_profile(ds, tokens, fit, ColdStartConfig(), cuts, tokens.item[cuts + 1])
    assert profile.segment_by == ["group"]
    assert scores["group"] > scores["none"] and scores["group"] > scores["noise"]
    assert profile.segment_names == ["group=a", "group=b"]
    # a cold user of segment b: the blend ranks b's items (11..20) first
    items_vocab = ds.vocab("items")
    b_items = {items_vocab.index_of(f"i{k}") for k in range(11, 21)}
    logits = np.zeros((1, len(items_vocab)))
    logits[0, 0] = -np.inf
    ranked = np.argsort(-profile.blend(logits, np.array([0]), [profile.user_segment["u0"]])[0])
    assert set(ranked[:10].tolist()) == b_items


def test_kappa_is_chosen_on_validation():
    from seqintent.models.profile import Profile

    # the model knows nothing (uniform); popularity knows the answer: the largest kappa wins
    profile = Profile(
        item_category=np.zeros(5, np.int32), popularity=np.array([0, 0.7, 0.1, 0.1, 0.1], np.float32)
    )
    logits = np.zeros((4, 5))
    logits[:, 0] = -np.inf
    kappa, _, grid = choose_blend(profile, logits, np.array([3, 3, 3, 3]), [None] * 4, np.array([1, 1, 1, 1]))
    assert kappa > 0 and grid["kappa=0,T=1"] < grid[f"kappa={kappa:g},T=1"]
    # the model knows the answer: the smallest kappa (the model alone) wins
    logits[:, 3] = 5.0
    kappa, temperature, _ = choose_blend(
        profile, logits, np.array([3, 3, 3, 3]), [None] * 4, np.array([3, 3, 3, 3])
    )
    assert (kappa, temperature) == (0.0, 1.0)


def test_temperature_lets_the_model_second_choice_win_with_popularity():
    from seqintent.models.profile import Profile

    # the model is sure of item 1 (wrong) and ranks item 2 (right) second; popularity ranks item 3
    # first, item 2 a close second and item 1 last. Only a flatter model distribution mixed with
    # popularity puts item 2 first: at temperature 1 the model's certainty swamps any mixture.
    profile = Profile(
        item_category=np.zeros(5, np.int32), popularity=np.array([0, 0.0, 0.40, 0.45, 0.15], np.float32)
    )
    logits = np.tile(np.array([-np.inf, 10.0, 5.0, 0.0, 0.0]), (4, 1))
    n_events, targets = np.array([3, 3, 3, 3]), np.array([2, 2, 2, 2])
    kappa, temperature, grid = choose_blend(profile, logits, n_events, [None] * 4, targets)
    assert temperature > 2.0 and grid[f"kappa={kappa:g},T={temperature:g}"] == 1.0
    assert max(v for k, v in grid.items() if k.endswith(",T=1")) < 1.0
    assert profile.temperature == temperature  # the chosen blend is the profile's
    assert np.argmax(profile.blend(logits, n_events, [None] * 4)[0]) == 2
