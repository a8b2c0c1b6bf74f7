"""The shipped dataset presets: each one validates, is listed with a description, and explains itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from seqintent.cli import main
from seqintent.errors import ConfigError
from seqintent.schema import DatasetConfig, list_presets, load_preset, preset_path, presets_folder

# One preset per dataset folder of ../shared/data that has events (issue 2), plus the benchmark variant.
REQUIRED_PRESETS = {
    "taobao",
    "taobao-5core",
    "tianchi-mobile",
    "kuairand",
    "diginetica",
    "yoochoose",
    "retailrocket",
    "movielens-100k",
    "movielens-latest",
    "s3rec",
    "sasrec",
    "bert4rec",
    "gcegnn",
    "hdfs",
}
PRESET_FILES = sorted(presets_folder().glob("*.yaml"))


def test_every_required_dataset_has_a_preset() -> None:
    assert set(list_presets()) >= REQUIRED_PRESETS


def test_the_repo_root_configs_link_is_the_presets_folder() -> None:
    root_configs = Path(__file__).resolve().parents[2] / "configs"
    if not root_configs.exists():
        pytest.skip("not a source checkout")
    assert root_configs.resolve() == presets_folder().resolve()


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: p.stem)
def test_preset_validates_and_is_named_after_its_file(path: Path) -> None:
    config = load_preset(path.stem)
    assert isinstance(config, DatasetConfig)
    assert config.name == path.stem
    assert config.description.strip(), "a preset needs a one-line description"
    assert "\n" not in config.description
    # A preset is an ordinary config: its full JSON form validates back to the same config.
    assert DatasetConfig.model_validate(config.model_dump(mode="json")) == config


def test_to_dict_keeps_rules_a_preset_switches_off() -> None:
    config = load_preset("sasrec")
    assert config.cleaning.dedup_within_s is None
    again = DatasetConfig.model_validate(config.to_dict())
    assert again.cleaning.dedup_within_s is None
    assert again.cleaning.min_dwell_s is None


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: p.stem)
def test_preset_opens_with_a_comment_and_a_usage_line(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# "), "start with a comment saying what the data is"
    assert f"seqintent ingest --preset {path.stem} " in text, "show the command that ingests the data"


def _comment_above_or_inline(lines: list[str], index: int) -> bool:
    if "#" in lines[index]:
        return True
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    return above >= 0 and lines[above].lstrip().startswith("#")


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: p.stem)
def test_every_cleaning_and_split_choice_says_why(path: Path) -> None:
    # Cleaning and split settings are where presets differ most; each written one carries its reason.
    lines = path.read_text(encoding="utf-8").splitlines()
    block = None
    unexplained = []
    for index, line in enumerate(lines):
        top = re.match(r"^(\w[\w-]*):", line)
        if top:
            block = top.group(1)
            continue
        child = re.match(r"^  (\w+):", line)
        if block in ("cleaning", "split") and child and not _comment_above_or_inline(lines, index):
            unexplained.append(f"{block}.{child.group(1)} (line {index + 1})")
    assert not unexplained, f"{path.name}: no comment for {', '.join(unexplained)}"


def test_unknown_preset_names_the_closest_ones() -> None:
    with pytest.raises(ConfigError, match=r"no such preset \(got 'taobo'\)") as info:
        preset_path("taobo")
    assert next(iter(info.value.candidates)) == "taobao"


def test_presets_command_lists_every_preset_with_its_description() -> None:
    result = CliRunner().invoke(main, ["presets", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.output)["presets"]}
    assert set(listed) == set(list_presets())
    for name, row in listed.items():
        assert row["description"] == load_preset(name).description
        assert Path(row["path"]) == preset_path(name)

    text = CliRunner().invoke(main, ["presets"])
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert len(lines) == len(listed)
    for line, name in zip(lines, sorted(listed), strict=True):
        assert line.split()[0] == name
        assert line.endswith(listed[name]["description"])


def test_presets_only_use_yaml_that_safe_load_reads() -> None:
    # Users copy presets into their own tooling: no custom tags, one mapping per file.
    for path in PRESET_FILES:
        assert isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), dict)
