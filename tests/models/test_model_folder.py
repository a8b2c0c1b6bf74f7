"""A Model folder loads back exactly, and every kind of bad folder gives a clear ArtifactError."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from seqintent.errors import ArtifactError, ConfigError
from seqintent.models import NextItemConfig, NextItemModel
from seqintent.train import train_next_item
from tests.dataset_builders import build_dataset, walk_dataset

CFG = {"model": {"hidden": 16, "heads": 2, "max_len": 8}, "train": {"epochs": 1, "threads": 1}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    ds = walk_dataset(root / "d", users=40, groups=2, length=6, seed=0)
    model = train_next_item(ds, NextItemConfig.load(CFG), out=root / "model")
    return ds, model, root / "model"


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_loaded_model_scores_like_the_trained_one(saved):
    ds, model, path = saved
    loaded = NextItemModel.from_pretrained(path)
    users = np.arange(ds.n_users)
    assert loaded.recommend(ds, users, k=3).equals(model.recommend(ds, users, k=3))
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["kind"] == "seqintent.model" and manifest["task"] == "next_item"
    assert json.loads((path / "config.json").read_text())["config"] == NextItemConfig.load(CFG).to_dict()


def test_missing_folder_and_file_instead_of_folder(tmp_path):
    with pytest.raises(ArtifactError, match="no such folder"):
        NextItemModel.from_pretrained(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match=r"is a file, expected a seqintent\.model folder"):
        NextItemModel.from_pretrained(tmp_path / "file")


def test_a_dataset_folder_is_not_a_model(saved):
    ds, _, _ = saved
    with pytest.raises(ArtifactError, match=r"expected kind 'seqintent\.model', found 'seqintent\.dataset'"):
        NextItemModel.from_pretrained(ds.path)


def test_missing_or_corrupt_weights(saved, tmp_path):
    _, _, path = saved
    bad = _copy(path, tmp_path / "m1")
    (bad / "model.safetensors").unlink()
    with pytest.raises(ArtifactError, match=r"model.safetensors: weights file is missing"):
        NextItemModel.from_pretrained(bad)
    bad = _copy(path, tmp_path / "m2")
    (bad / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ArtifactError, match="weights are not a readable safetensors file"):
        NextItemModel.from_pretrained(bad)


def test_weights_that_do_not_match_the_config(saved, tmp_path):
    _, _, path = saved
    bad = _copy(path, tmp_path / "m")
    state = load_file(str(bad / "model.safetensors"))
    state["encoder.item_emb.weight"] = torch.zeros(3, 16)
    save_file(state, str(bad / "model.safetensors"))
    with pytest.raises(ArtifactError, match=r"weights do not match config\.json") as err:
        NextItemModel.from_pretrained(bad)
    assert "same training run" in err.value.fix


def test_config_that_is_not_a_model_config(saved, tmp_path):
    _, _, path = saved
    bad = _copy(path, tmp_path / "m")
    (bad / "config.json").write_text(json.dumps({"config": {"model": {"hiden": 3}}}))
    with pytest.raises(ArtifactError, match=r"config\.json: config does not describe a next-item model"):
        NextItemModel.from_pretrained(bad)


def test_future_format_version_names_the_version(saved, tmp_path):
    _, _, path = saved
    bad = _copy(path, tmp_path / "m")
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["format_version"] = 99
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format version 99 is not supported"):
        NextItemModel.from_pretrained(bad)


def test_a_model_refuses_a_dataset_with_other_items(saved, tmp_path):
    _, model, _ = saved
    other = build_dataset(tmp_path / "o", user=["u"] * 3, item=["p", "q", "r"])
    with pytest.raises(ArtifactError, match="items but NextItemModel was fitted on"):
        model.recommend(other)


def test_saving_over_a_folder_needs_overwrite(saved):
    _, model, path = saved
    with pytest.raises(ArtifactError, match="output folder exists and is not empty"):
        model.save_pretrained(path)
    model.save_pretrained(path, overwrite=True)
    assert NextItemModel.from_pretrained(path).n_items == model.n_items


def test_config_unknown_key_names_candidates(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.hiden: unknown key") as err:
        NextItemConfig.load({"model": {"hiden": 32}})
    assert err.value.candidates == ["hidden"]
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: -1\n")
    with pytest.raises(ConfigError, match=r"c.yaml, train.lr: Input should be greater than 0"):
        NextItemConfig.load(path)
    cfg = NextItemConfig.load({"model": {"hidden": 32}})
    assert NextItemConfig.load(cfg.to_dict()) == cfg
