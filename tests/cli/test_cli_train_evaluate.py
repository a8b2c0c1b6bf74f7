"""``seqintent train`` and ``seqintent evaluate`` run end to end; effects checked through the API."""

import json

import pytest
from click.testing import CliRunner

from seqintent.cli import main
from seqintent.models import NextItemModel
from tests.dataset_builders import walk_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    ds = walk_dataset(root / "data", users=60, groups=3, length=8, seed=0)
    (root / "cfg.yaml").write_text("model: {hidden: 16, heads: 2}\ntrain: {threads: 1, batch_size: 16}\n")
    result = CliRunner().invoke(
        main,
        [
            "train",
            str(ds.path),
            "-o",
            str(root / "model"),
            "--config",
            str(root / "cfg.yaml"),
            "--epochs",
            "3",
            "--max-len",
            "6",
            "--seed",
            "3",
            "--quiet",
            "--tensorboard",
            str(root / "tb"),
        ],
    )
    assert result.exit_code == 0, result.output
    return ds, root


def test_train_writes_a_model_with_the_command_line_settings(trained):
    _, root = trained
    model = NextItemModel.from_pretrained(root / "model")
    assert model.config.model.max_len == 6 and model.config.model.hidden == 16
    assert model.config.train.epochs == 3 and model.config.train.seed == 3
    assert model.metrics["epochs_run"] == 3
    assert list((root / "tb").glob("events.out.tfevents.*"))  # TensorBoard logs were written


def test_evaluate_json_has_the_documented_shape(trained):
    ds, root = trained
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            str(root / "model"),
            str(ds.path),
            "--baselines",
            "pop,recent",
            "--bootstrap",
            "50",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dataset"] == "walk" and report["split"] == "test" and report["examples"] == 60
    assert set(report["baselines"]) == {"pop", "recent"}
    for k in ("HR", "NDCG", "MRR"):
        for cut in (5, 10, 20):
            assert 0.0 <= report["model"][f"{k}@{cut}"] <= 1.0
            lo, hi = report["ci95"]["model"][f"{k}@{cut}"]
            assert lo <= report["model"][f"{k}@{cut}"] <= hi
    assert report["train_seconds_per_epoch"] > 0


def test_evaluate_text_and_errors(trained, tmp_path):
    ds, root = trained
    result = CliRunner().invoke(main, ["evaluate", str(root / "model"), str(ds.path), "--baselines", "pop"])
    assert result.exit_code == 0, result.output
    assert "NDCG@10" in result.output and "pop" in result.output
    bad = CliRunner().invoke(main, ["evaluate", str(tmp_path), str(ds.path)])
    assert bad.exit_code == 2
    assert "manifest.json is missing" in bad.output
    unknown = CliRunner().invoke(
        main, ["evaluate", str(root / "model"), str(ds.path), "--baselines", "popular"]
    )
    assert unknown.exit_code == 2 and "unknown baseline" in unknown.output


def test_train_refuses_an_existing_folder_and_a_bad_config(trained, tmp_path):
    ds, root = trained
    again = CliRunner().invoke(main, ["train", str(ds.path), "-o", str(root / "model"), "--quiet"])
    assert again.exit_code == 2 and "output folder exists and is not empty" in again.output
    (tmp_path / "bad.yaml").write_text("model: {hidden: 16, layer: 3}\n")
    bad = CliRunner().invoke(
        main, ["train", str(ds.path), "-o", str(tmp_path / "m"), "--config", str(tmp_path / "bad.yaml")]
    )
    assert bad.exit_code == 2 and "model.layer: unknown key" in bad.output and "layers" in bad.output


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_commands_have_help_with_an_example(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Example: seqintent " + command in result.output
