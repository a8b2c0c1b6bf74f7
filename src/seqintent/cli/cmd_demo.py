"""``seqintent demo``: the whole flow on the built-in simulator (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors


@main.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Folder for the log, Dataset, Model and Runtime.",
)
@click.option("--users", type=int, default=1500, show_default=True, help="Simulated users.")
@click.option("--epochs", type=int, default=30, show_default=True, help="Upper bound on training epochs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of simulation and training.")
@handle_errors
def demo_command(out: Path, users: int, epochs: int, seed: int) -> None:
    """Simulate a log, ingest it, train, evaluate beside baselines, predict, export; no data needed.

    Example: seqintent demo --out demo --users 1500
    """
    from seqintent.demo import run_demo

    run_demo(out, users=users, seed=seed, epochs=epochs, echo=click.echo)
