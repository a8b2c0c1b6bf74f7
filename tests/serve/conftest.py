"""Fixtures of the service tests: a real redis-server on a free port, and stores of both kinds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from seqintent.serve.store import EventStore, open_store
from tests.service_builders import NO_REDIS, REDIS_SERVER, RedisServer, make_keys


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip(NO_REDIS)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> str:
    """A URL on the shared server with a prefix of its own, so tests never see each other's keys."""
    return f"{redis_server.url}?prefix=t{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return request.getfixturevalue("redis_url")


@pytest.fixture()
def make_store(store_url: str) -> Iterator:
    """Open stores on the same backend (several service replicas, or one after a restart)."""
    opened: list[EventStore] = []

    def make(max_events: int = 5) -> EventStore:
        store = open_store(store_url, max_events=max_events)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def exported_plain(tmp_path_factory: pytest.TempPathFactory):
    """The small trained model of tests/runtime_builders.py and its Runtime folder."""
    pytest.importorskip("onnxruntime")
    from runtime_builders import exported_model

    return exported_model("plain", tmp_path_factory.mktemp)


@pytest.fixture()
def serve(exported_plain, tmp_path):
    """Start apps on a Runtime: ``serve(store_url=..., **settings)`` gives an entered TestClient."""
    from fastapi.testclient import TestClient

    from seqintent.serve import ServeSettings, create_app

    clients = []

    def start(store_url: str | None = None, **settings):
        url = store_url or f"sqlite:///{tmp_path}/events.db"
        app = create_app(exported_plain.runtime, ServeSettings(store=url, **settings), keys=make_keys())
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    def stop(client) -> None:
        """Shut an app down (its lifespan closes the engine and the store), as a restart would."""
        clients.remove(client)
        client.__exit__(None, None, None)

    start.stop = stop
    yield start
    for client in clients:
        client.__exit__(None, None, None)
