"""``seqintent keys``: create and list API keys (the file keeps only their hashes)."""

from __future__ import annotations

from pathlib import Path

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json


@main.group("keys")
def keys_group() -> None:
    """API keys for `seqintent serve` (stored hashed; a key is shown once, when created)."""


@keys_group.command("add")
@click.argument("keyfile", type=click.Path(path_type=Path))
@click.option("--scopes", required=True, help="Comma-separated scopes: read (answers), write (events).")
@click.option("--name", default="", help="A label for the key (who or what uses it).")
@json_option
@handle_errors
def keys_add_command(keyfile: Path, scopes: str, name: str, as_json: bool) -> None:
    """Create a key with SCOPES in KEYFILE (created when missing) and print it once.

    Example: seqintent keys add keys.json --scopes read,write --name dashboard
    """
    from seqintent.serve.auth import add_key

    key, info = add_key(keyfile, scopes, name=name)
    if as_json:
        print_json(
            {
                "key": key,
                "id": info.id,
                "name": info.name,
                "scopes": sorted(info.scopes),
                "file": str(keyfile),
            }
        )
        return
    click.echo(key)
    click.echo(
        f"key {info.id} ({', '.join(sorted(info.scopes))}) added to {keyfile}; "
        "it is shown only now: store it safely.",
        err=True,
    )


@keys_group.command("list")
@click.argument("keyfile", type=click.Path(path_type=Path))
@json_option
@handle_errors
def keys_list_command(keyfile: Path, as_json: bool) -> None:
    """List the keys of KEYFILE (ids, names, scopes; never the keys).

    Example: seqintent keys list keys.json
    """
    from seqintent.serve.auth import KeyRing

    infos = sorted(KeyRing.from_file(keyfile).infos(), key=lambda i: i.id)
    if as_json:
        print_json({"keys": [{"id": i.id, "name": i.name, "scopes": sorted(i.scopes)} for i in infos]})
        return
    for info in infos:
        click.echo(f"{info.id}  {','.join(sorted(info.scopes)):<10}  {info.name}")
