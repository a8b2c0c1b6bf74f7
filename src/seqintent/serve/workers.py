"""Several server processes on one port, each listening on a socket of its own (``SO_REUSEPORT``).

uvicorn's own ``--workers`` shares one listening socket between its processes: the one that wakes
first accepts a whole burst of connections, and with keep-alive clients the load stays where it
landed (the 64 connections of bench/serve.py's load process split 44 / 21 between two workers; the
busier one queued requests while the other idled). With a socket per worker the kernel hashes each
new connection to one of them, an even split on average.

A worker that exits on its own (a crash, a store it cannot open) stops the service with an error
rather than being restarted: a process manager (systemd, Kubernetes) restarting the whole service
is the clearer contract than a supervisor hiding failures.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any


def reuse_port_supported() -> bool:
    """Whether the kernel balances connections over sockets sharing a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other ``SO_REUSEPORT`` sockets may share (not listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(config: dict[str, Any]) -> None:
    import uvicorn

    server_config = uvicorn.Config(**config)
    sock = reuse_port_socket(server_config.host, server_config.port)
    sock.listen(server_config.backlog)
    uvicorn.Server(server_config).run(sockets=[sock])


def run_workers(workers: int, config: dict[str, Any]) -> int:
    """Run ``workers`` processes of ``uvicorn.Config(**config)`` until SIGINT / SIGTERM; the exit code.

    ``config`` must name the app as an import string (each process builds its own). Returns 0 after
    a requested stop, 1 when a worker exited on its own (the others are then stopped too).
    """
    # bound but never listening: the port is taken for the service's lifetime and a busy port fails
    # here, while connections go only to the workers' listening sockets
    reservation = reuse_port_socket(config["host"], config["port"])
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(config,), daemon=False) for _ in range(workers)]
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        while not stop.wait(0.2):
            if any(p.exitcode is not None for p in processes):
                break
        failed = not stop.is_set()
        for process in processes:
            if process.exitcode is None:
                process.terminate()  # SIGTERM: uvicorn finishes its requests and runs the lifespan's end
        for process in processes:
            process.join(timeout=30)
            if process.exitcode is None:
                process.kill()
                process.join()
        return 1 if failed else 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        reservation.close()
