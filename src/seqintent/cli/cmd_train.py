"""``seqintent train``: train the next-item Transformer on a Dataset folder."""

from __future__ import annotations

import os
from pathlib import Path

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json

# OpenMP threads that spin-wait collapse when another process takes a core (5x slower steps measured
# on a shared 2-core machine); sleeping waits cost little when the machine is idle. Set before torch
# starts its OpenMP runtime; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@main.command("train")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "-o", "--out", "out", required=True, type=click.Path(path_type=Path), help="Model folder to write."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="YAML with model: / train: sections (and intents: for the intent heads).",
)
@click.option("--epochs", type=int, help="Upper bound on epochs (early stopping usually ends sooner).")
@click.option("--max-len", "max_len", type=int, help="Events of history the model reads.")
@click.option("--seed", type=int, help="Seed: same seed, same model.")
@click.option("--overwrite", is_flag=True, help="Replace an existing Model folder.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from MODEL.checkpoint/.")
@click.option("--tensorboard", type=click.Path(path_type=Path), help="Write TensorBoard logs to this folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--no-intents", "no_intents", is_flag=True, help="Train the next-item model only (no intent heads)."
)
@json_option
@handle_errors
def train_command(
    dataset: Path,
    out: Path,
    config_file: Path | None,
    epochs: int | None,
    max_len: int | None,
    seed: int | None,
    overwrite: bool,
    resume: bool,
    tensorboard: Path | None,
    quiet: bool,
    no_intents: bool,
    as_json: bool,
) -> None:
    """Train the next-item model on DATASET, then its intent heads, and write the Model folder.

    Intent heads (next action, purchase / churn … within a horizon) are trained wherever the log
    supports their labels; --no-intents skips them.

    Example: seqintent train data/beauty -o models/beauty --epochs 100
    """
    from seqintent.data import Dataset
    from seqintent.models import NextItemConfig
    from seqintent.train.pipeline import train_model

    intents_data = None
    data = NextItemConfig().to_dict()
    if config_file:
        from seqintent.models.intent_config import read_training_config

        next_item_data, intents_data = read_training_config(config_file)
        data = NextItemConfig.load(next_item_data).to_dict()
    for section, key, value in (
        ("train", "epochs", epochs),
        ("model", "max_len", max_len),
        ("train", "seed", seed),
    ):
        if value is not None:
            data[section][key] = value
    config = NextItemConfig.load(data)
    model = train_model(
        Dataset.load(dataset),
        config,
        intents_data,
        with_intents=not no_intents,
        out=out,
        overwrite=overwrite,
        resume=resume,
        progress=not quiet and not as_json,
        tensorboard=tensorboard,
        config_file=config_file,
    )
    m = model.metrics
    if as_json:
        print_json({"model": str(out), **{k: v for k, v in m.items() if k != "history"}})
        return
    best = m.get("best_valid") or {}
    if "best_epoch" in m:  # a joint intent run has no separate next-item training
        click.echo(
            f"saved {out}  best epoch {m['best_epoch']}/{m['epochs_run']} ({m['stopped_by']})  "
            + "  ".join(f"valid {k} {v:.4f}" for k, v in best.items() if k.endswith("@10"))
            + f"  {m['train_seconds_per_epoch']:.1f} s/epoch, {m['seconds_to_best']:.0f} s to best"
        )
    else:
        click.echo(f"saved {out}")
    intents = m.get("intents") or {}
    if intents.get("labels"):
        click.echo(f"intent heads: {', '.join(intents['labels'])} ({intents['mode']})")
    for name, why in (intents.get("dropped_labels") or {}).items():
        click.echo(f"  not trained: {name}: {why}")
    if intents.get("skipped"):
        click.echo(f"intent heads skipped: {intents['skipped']}")
