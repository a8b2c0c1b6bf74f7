"""``seqintent ingest`` and ``seqintent stats``."""

from __future__ import annotations

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json


@main.command("ingest")
@click.argument("path", type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(), help="Dataset folder to write.")
@click.option("--preset", help="A shipped dataset config (see `seqintent presets`).")
@click.option("--config", "config_file", type=click.Path(), help="A dataset config YAML file.")
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    help="Bad rows: fail (default: the config's) or skip (counted).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing Dataset folder.")
@json_option
@handle_errors
def ingest_command(
    path: str,
    out: str,
    preset: str | None,
    config_file: str | None,
    on_error: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Read a raw log (file, glob or folder) into a Dataset folder.

    Example: seqintent ingest --preset taobao UserBehavior.csv -o data/taobao
    """
    from seqintent.errors import ConfigError
    from seqintent.ingest import dataset_stats, format_stats, ingest
    from seqintent.schema import load_config, load_preset

    if (preset is None) == (config_file is None):
        raise ConfigError("give exactly one of --preset NAME or --config FILE", key="--preset/--config")
    config = load_preset(preset) if preset is not None else load_config(config_file)  # type: ignore[arg-type]
    dataset = ingest(path, config, out, on_error=on_error, overwrite=overwrite)  # type: ignore[arg-type]
    stats = dataset_stats(dataset)
    if as_json:
        print_json(stats)
    else:
        click.echo(format_stats(stats))


@main.command("stats")
@click.argument("dataset", type=click.Path())
@json_option
@handle_errors
def stats_command(dataset: str, as_json: bool) -> None:
    """Print a Dataset's counts: users, items, events, action mix, lengths, time range, drops.

    Example: seqintent stats data/taobao --json
    """
    from seqintent.data import Dataset
    from seqintent.ingest import dataset_stats, format_stats

    stats = dataset_stats(Dataset.load(dataset))
    if as_json:
        print_json(stats)
    else:
        click.echo(format_stats(stats))
