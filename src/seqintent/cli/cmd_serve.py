"""``seqintent serve``: the HTTP service on an exported Runtime."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors

if TYPE_CHECKING:
    from seqintent.serve import ServeSettings


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
    "--max-wait-ms",
    type=float,
    default=None,
    help="Micro-batching: wait for company (ms); 0: none, yet requests that queue meanwhile share a call. "
    "Default: 2 with the model on its own thread, 0 on the event loop.",
)
@click.option(
    "--model-thread/--model-on-loop",
    default=None,
    help="Run the model on a thread of its own (the loop reads requests meanwhile) or on the event loop "
    "(no thread hand-off, less CPU per request). Default: a thread with one worker, the loop with several.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes sharing the port and the event store (about one per core).",
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
    max_wait_ms: float | None,
    model_thread: bool | None,
    workers: int,
    log_level: str,
) -> None:
    """Serve RUNTIME (a Runtime folder, or a Model folder exported with `seqintent export`).

    Keys come from --keys and from the environment variable SEQINTENT_API_KEYS (comma-separated
    keys with every scope, for local use).

    With --workers N, N processes answer on the same port, each with its own model, cache and (on
    Linux) listening socket, all with the one event store (SQLite in WAL mode or Redis); /metrics
    sums their counters. A worker that exits on its own stops the service with exit code 1.

    Example: SEQINTENT_API_KEYS=local-key seqintent serve models/taobao.runtime --port 8000
    """
    from seqintent._compat import require
    from seqintent.serve import KeyRing, create_app, default_model_thread

    uvicorn = require("uvicorn", "the HTTP service")
    ring = KeyRing.from_sources(keyfile)
    settings = build_settings(
        store=store,
        max_events_per_user=max_events,
        precision="int8" if int8 else "fp32",
        threads=threads,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        model_thread=default_model_thread(workers) if model_thread is None else model_thread,
        cache_ttl_s=cache_ttl,
        tiered=not no_tiers,
        log_level=log_level,
    )
    app = create_app(runtime, settings, keys=ring, auth=not no_auth)  # checks keys and the runtime path
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
        return
    _serve_workers(uvicorn, runtime, settings, keyfile, not no_auth, workers, host, port, log_level)


def _serve_workers(
    uvicorn: Any,
    runtime: Path,
    settings: ServeSettings,
    keyfile: Path | None,
    auth: bool,
    workers: int,
    host: str,
    port: int,
    log_level: str,
) -> None:
    """Run ``workers`` processes of the app (each builds it with ``app_from_environment``)."""
    from seqintent.serve.app import SPEC_ENV
    from seqintent.serve.metrics import MULTIPROCESS_ENV
    from seqintent.serve.workers import reuse_port_supported, run_workers

    spec = {
        "runtime": str(runtime.resolve()),
        "settings": settings.model_dump(mode="json"),
        "keyfile": None if keyfile is None else str(keyfile.resolve()),
        "auth": auth,
    }
    os.environ[SPEC_ENV] = json.dumps(spec)
    # counters of every worker in one /metrics: prometheus_client's multiprocess mode, in a fresh
    # folder unless the operator named one (it must be empty when the service starts)
    own_folder = MULTIPROCESS_ENV not in os.environ
    if own_folder:
        os.environ[MULTIPROCESS_ENV] = tempfile.mkdtemp(prefix="seqintent-metrics-")
    config = {
        "app": "seqintent.serve.app:app_from_environment",
        "factory": True,
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
    }
    try:
        if reuse_port_supported():  # a listening socket per worker: connections spread evenly
            code = run_workers(workers, config)
            if code:
                raise SystemExit(code)
        else:
            uvicorn.run(**config, workers=workers)
    finally:
        if own_folder:
            shutil.rmtree(os.environ.pop(MULTIPROCESS_ENV), ignore_errors=True)


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
