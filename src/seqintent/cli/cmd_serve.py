"""``seqintent serve``: the HTTP service on an exported Runtime."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors

if TYPE_CHECKING:
    from seqintent.serve import ServeSettings

API_KEYS_ENV = "SEQINTENT_API_KEYS"


@main.command("serve")
@click.argument("runtime", type=click.Path(path_type=Path))
@click.option(
    "--store",
    default="sqlite:///seqintent-events.db",
    show_default=True,
    help="Event store: sqlite:///FILE (embedded) or redis://HOST:PORT/DB (shared by replicas).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option("--keys", "keyfile", type=click.Path(path_type=Path), help="API key file (seqintent keys add).")
@click.option("--no-auth", is_flag=True, help="Accept requests without a key (local trials only).")
@click.option("--int8", is_flag=True, help="Run the int8 graph (export with --int8).")
@click.option("--max-events", type=int, default=500, show_default=True, help="Events kept per user.")
@click.option(
    "--cache-ttl", type=float, default=1800.0, show_default=True, help="Result cache TTL, seconds (0: off)."
)
@click.option(
    "--no-tiers", is_flag=True, help="Run the model after every new event (no cache/popularity shortcut)."
)
@click.option(
    "--threads", type=int, default=1, show_default=True, help="ONNX Runtime threads per model call."
)
@click.option(
    "--max-batch", type=int, default=32, show_default=True, help="Micro-batching: histories per call."
)
@click.option(
    "--max-wait-ms", type=float, default=1.0, show_default=True, help="Micro-batching: wait for company (ms)."
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
@handle_errors
def serve_command(
    runtime: Path,
    store: str,
    host: str,
    port: int,
    keyfile: Path | None,
    no_auth: bool,
    int8: bool,
    max_events: int,
    cache_ttl: float,
    no_tiers: bool,
    threads: int,
    max_batch: int,
    max_wait_ms: float,
    log_level: str,
) -> None:
    """Serve RUNTIME (a Runtime folder, or a Model folder exported with `seqintent export`).

    Keys come from --keys and from the environment variable SEQINTENT_API_KEYS (comma-separated
    keys with every scope, for local use).

    Example: SEQINTENT_API_KEYS=local-key seqintent serve models/taobao.runtime --port 8000
    """
    from seqintent._compat import require
    from seqintent.serve import KeyRing, create_app

    uvicorn = require("uvicorn", "the HTTP service")
    ring = KeyRing({})
    if keyfile is not None:
        ring = ring.merged(KeyRing.from_file(keyfile))
    ring = ring.merged(KeyRing.from_plain(os.environ.get(API_KEYS_ENV, "").split(",")))
    settings = build_settings(
        store=store,
        max_events_per_user=max_events,
        precision="int8" if int8 else "fp32",
        threads=threads,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        cache_ttl_s=cache_ttl,
        tiered=not no_tiers,
        log_level=log_level,
    )
    app = create_app(runtime, settings, keys=ring, auth=not no_auth)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


def build_settings(**values: object) -> ServeSettings:
    """Settings from flags; a bad value is a ConfigError naming the setting."""
    from pydantic import ValidationError

    from seqintent.errors import ConfigError
    from seqintent.serve import ServeSettings

    try:
        return ServeSettings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"], key=".".join(map(str, err["loc"])), value=err.get("input")) from None
