"""Helpers of the service tests: a real redis-server process, and API keys of every scope."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from seqintent.serve import KeyInfo, KeyRing, hash_key

REDIS_SERVER = shutil.which("redis-server")
NO_REDIS = "redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server process in its own folder, with an append-only file fsynced on every write."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.folder),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


READ_WRITE, READ_ONLY, WRITE_ONLY = "rw-key-0123456789", "r-key-0123456789", "w-key-0123456789"


def make_keys() -> KeyRing:
    """Three keys: read+write, read only, write only."""
    return KeyRing(
        {
            hash_key(READ_WRITE): KeyInfo("k-rw", "both", frozenset({"read", "write"})),
            hash_key(READ_ONLY): KeyInfo("k-r", "reader", frozenset({"read"})),
            hash_key(WRITE_ONLY): KeyInfo("k-w", "writer", frozenset({"write"})),
        }
    )


def auth(key: str = READ_WRITE) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
