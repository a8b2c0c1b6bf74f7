"""Reading a simulation's ground truth back (for tests, benchmarks and the demo)."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from seqintent.errors import ArtifactError
from seqintent.schema.columns import MANIFEST_KIND_SIMULATION, SIMULATION_FORMAT_VERSION, SimulationFiles
from seqintent.simulate._write import truth_path


class GroundTruth:
    """The ground-truth folder of a simulated log. Open one with :func:`load_truth`.

    Attributes
    ----------
    path:
        The ``<log>.truth/`` folder.
    meta:
        The contents of ``truth.json``.
    """

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta

    @property
    def scenario(self) -> str:
        return self.meta["scenario"]

    @property
    def log_path(self) -> Path:
        """The log file the truth describes (beside the folder)."""
        return self.path.parent / self.meta["log"]

    def table(self, name: str) -> pa.Table:
        """A truth table by name (``sessions``, ``signals``, ``users``, ``noise`` or the scenario's own).

        Raises
        ------
        ArtifactError
            If this scenario has no such table; the message lists the ones it has.
        """
        if name not in self.meta["tables"]:
            raise ArtifactError(
                f"the {self.scenario} truth has no table {name!r}",
                file=str(self.path),
                candidates=sorted(self.meta["tables"]),
            )
        return pq.read_table(self.path / self.meta["tables"][name])

    @cached_property
    def sessions(self) -> pa.Table:
        return self.table("sessions")

    @cached_property
    def signals(self) -> pa.Table:
        return self.table("signals")

    @cached_property
    def users(self) -> pa.Table:
        return self.table("users")

    @cached_property
    def noise(self) -> pa.Table:
        return self.table("noise")


def load_truth(path: str | Path) -> GroundTruth:
    """Open the ground truth of a simulated log, given the log file or its ``.truth`` folder.

    Raises
    ------
    ArtifactError
        If there is no truth folder, or it is of another kind or format version.
    """
    path = Path(path)
    folder = path if path.is_dir() else truth_path(path)
    manifest = folder / SimulationFiles.MANIFEST
    if not manifest.is_file():
        raise ArtifactError(
            "no simulator ground truth here (truth.json is missing)",
            file=str(folder),
            fix="give a log written by `seqintent simulate` or its .truth folder",
        )
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    kind = meta.get("kind")
    if kind != MANIFEST_KIND_SIMULATION:
        raise ArtifactError(
            f"not a simulator truth folder (kind {kind!r}, expected {MANIFEST_KIND_SIMULATION!r})",
            file=str(manifest),
        )
    if meta.get("format_version") != SIMULATION_FORMAT_VERSION:
        raise ArtifactError(
            f"unsupported truth format version {meta.get('format_version')!r} "
            f"(this seqintent reads {SIMULATION_FORMAT_VERSION})",
            file=str(manifest),
            fix="simulate the log again with this version",
        )
    return GroundTruth(folder, meta)
