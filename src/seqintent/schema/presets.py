"""Presets: dataset configs shipped for public datasets and the simulator.

A preset is only a config file in ``configs/`` (``seqintent/configs`` once installed): copy one
and edit it to describe your own log.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from seqintent.errors import ConfigError, close_names
from seqintent.schema.config import DatasetConfig, load_config


def presets_folder() -> Path:
    """The folder holding the preset YAML files."""
    return Path(str(resources.files("seqintent") / "configs"))


def list_presets() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(p.stem for p in presets_folder().glob("*.yaml"))


def preset_path(name: str) -> Path:
    """The YAML file of preset ``name``.

    Raises
    ------
    ConfigError
        If there is no such preset; the message lists the closest names.
    """
    path = presets_folder() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            "no such preset",
            key="preset",
            value=name,
            candidates=close_names(name, list_presets()),
            fix="run `seqintent presets` to list them, or pass --config FILE",
        )
    return path


def load_preset(name: str) -> DatasetConfig:
    """Read and validate the preset ``name``."""
    return load_config(preset_path(name))
