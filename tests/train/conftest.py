"""Fixtures shared by the training tests."""

import numpy as np
import pytest

from tests.dataset_builders import sequences_dataset

ITEMS, GROUPS = 400, 40


def _group_log(folder, users=600, length=10, seed=0):
    """Each user views items of one group of ten in random order: which items belong together is the
    whole signal (item-kNN's strength), and the order carries none."""
    rng = np.random.default_rng(seed)
    members = rng.permutation(ITEMS).reshape(GROUPS, -1)
    walks = [rng.choice(members[rng.integers(GROUPS)], length) for _ in range(users)]
    return sequences_dataset(folder, [[f"i{i}" for i in walk] for walk in walks], name="groups")


@pytest.fixture(scope="session")
def groups(tmp_path_factory):
    """The group log (read only): the neighbour prior's tests and selection with the priors share it."""
    return _group_log(tmp_path_factory.mktemp("groups") / "d")
