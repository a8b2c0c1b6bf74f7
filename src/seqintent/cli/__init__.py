"""The ``seqintent`` command. Each subcommand is a few lines over the public Python API.

Command groups live in ``cmd_*.py`` modules that add themselves to :func:`main`.
"""

from __future__ import annotations

import click

from seqintent import __version__
from seqintent.cli._common import handle_errors, json_option, print_json


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="seqintent")
def main() -> None:
    """Infer what users intend from what they do.

    \b
    Typical flow:
      seqintent simulate --scenario ecommerce --users 2000 -o events.csv
      seqintent ingest --preset simulator events.csv -o data/demo
      seqintent stats data/demo
    """


@main.command("presets")
@json_option
@handle_errors
def presets_command(as_json: bool) -> None:
    """List the dataset presets (config files you can copy and edit).

    Example: seqintent presets
    """
    from seqintent.schema import list_presets, load_preset, preset_path

    rows = [(name, load_preset(name).description, str(preset_path(name))) for name in list_presets()]
    if as_json:
        print_json({"presets": [{"name": n, "description": d, "path": p} for n, d, p in rows]})
        return
    width = max((len(n) for n, _, _ in rows), default=0)
    for name, description, _ in rows:
        click.echo(f"{name:<{width}}  {description}")


@main.command("actions")
@json_option
def actions_command(as_json: bool) -> None:
    """List the canonical actions by family.

    Example: seqintent actions --json
    """
    from seqintent.schema import FAMILIES

    if as_json:
        print_json({"families": {fam: list(actions) for fam, actions in FAMILIES.items()}})
        return
    for family, actions in FAMILIES.items():
        click.echo(f"{family:<9} {', '.join(actions)}")


def _register() -> None:
    # Command modules register themselves on `main`; imported here so `seqintent --help` lists them.
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{module.name}")


_register()
