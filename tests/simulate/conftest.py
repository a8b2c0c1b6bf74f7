"""Small simulations shared by the simulator tests (generated once per test session)."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import pytest

from seqintent.simulate import Simulation, generate


class _SessionSlices:
    """Clean events by session id, sliced on demand (building every group up front is slow)."""

    def __init__(self, clean: pd.DataFrame) -> None:
        self._frame = clean.sort_values("session_id", kind="stable")
        self._ids = self._frame["session_id"].to_numpy()

    def __getitem__(self, session_id: int) -> pd.DataFrame:
        lo, hi = np.searchsorted(self._ids, [session_id, session_id + 1])
        return self._frame.iloc[lo:hi]


class Sim:
    """A simulation with pandas views: the log (with its event ids) and the clean log (noise removed)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.log = sim.log.to_pandas()
        self.log.index.name = "event_id"
        self.truth = {name: table.to_pandas() for name, table in sim.truth.items()}
        self.clean = self.log.drop(index=self.truth["noise"]["event_id"].to_numpy())
        self.sessions = self.truth["sessions"].set_index("session_id")
        self.signals = self.truth["signals"]

    @cached_property
    def by_session(self) -> _SessionSlices:
        """The clean events of each session: ``sim.by_session[session_id]``."""
        return _SessionSlices(self.clean)

    def action_counts(self) -> pd.DataFrame:
        """Per-session counts of each raw action in the clean log."""
        return self.clean.groupby(["session_id", "action"]).size().unstack(fill_value=0)

    def labelled(self) -> pd.DataFrame:
        """Sessions with a planted binary label."""
        return self.sessions[self.sessions["positive"].notna()]

    @staticmethod
    def spearman(values: np.ndarray) -> float:
        """Rank correlation of ``values`` with their position (0 when undefined)."""
        ranks = pd.Series(values).rank().to_numpy()
        if len(values) < 2 or ranks.std() == 0:
            return 0.0
        return float(np.corrcoef(np.arange(len(values), dtype=float), ranks)[0, 1])


@pytest.fixture(scope="session")
def ecommerce() -> Sim:
    return Sim(generate("ecommerce", n_users=400, seed=11))


@pytest.fixture(scope="session")
def content() -> Sim:
    return Sim(generate("content", n_users=250, seed=12))


@pytest.fixture(scope="session")
def finance() -> Sim:
    return Sim(generate("finance", n_users=600, seed=13))


@pytest.fixture(scope="session", params=["ecommerce", "content", "finance"])
def any_scenario(request: pytest.FixtureRequest) -> Sim:
    return request.getfixturevalue(request.param)
