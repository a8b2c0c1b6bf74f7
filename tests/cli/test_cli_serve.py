"""``seqintent export`` / ``keys`` / ``serve``: run each command, check its effect via the API and HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqintent.cli import main
from seqintent.runtime import Runtime
from seqintent.serve import KeyRing
from seqintent.serve.workers import reuse_port_socket, reuse_port_supported

pytest.importorskip("onnxruntime")
httpx = pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from runtime_builders import exported_model

    return exported_model("plain", tmp_path_factory.mktemp)


def _wait_until_healthy(proc: subprocess.Popen, base: str, *, seconds: float) -> None:
    """Poll /healthz until the server answers (failing with its stderr if it exits first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", [["export"], ["serve"], ["keys"], ["keys", "add"], ["keys", "list"]])
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output or command == ["keys"]
    assert len(result.output.splitlines()) > 3


def test_keys_add_prints_the_key_once_and_list_never_does(tmp_path):
    path = tmp_path / "keys.json"
    result = CliRunner().invoke(main, ["keys", "add", str(path), "--scopes", "read,write", "--name", "ci"])
    assert result.exit_code == 0
    key = result.stdout.strip()
    assert KeyRing.from_file(path).scopes_of(key) == {"read", "write"}
    listed = CliRunner().invoke(main, ["keys", "list", str(path), "--json"])
    entry = json.loads(listed.stdout)["keys"][0]
    assert entry["name"] == "ci" and entry["scopes"] == ["read", "write"]
    assert key not in listed.stdout
    bad = CliRunner().invoke(main, ["keys", "add", str(path), "--scopes", "raed"])
    assert bad.exit_code == 2
    assert "error: scopes: unknown scope (got 'raed')" in bad.stderr


def test_export_writes_a_checked_runtime(exported, tmp_path):
    out = tmp_path / "rt"
    result = CliRunner().invoke(main, ["export", str(exported.model), "-o", str(out), "--int8", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["runtime"] == str(out)
    assert body["precisions"]["fp32"]["max_abs_diff"] < 1e-4
    assert sorted(Runtime.load(out).config.precisions) == ["fp32", "int8"]
    again = CliRunner().invoke(main, ["export", str(exported.model), "-o", str(out)])
    assert again.exit_code == 2 and "pass --overwrite" in again.stderr


def test_export_with_an_anomaly_model_serves_risk(exported, tmp_path):
    from seqintent.anomaly import AnomalyDetector
    from seqintent.runtime import InferenceEngine

    not_anomaly = CliRunner().invoke(
        main, ["export", str(exported.model), "-o", str(tmp_path / "a"), "--anomaly", str(exported.model)]
    )
    assert not_anomaly.exit_code == 2 and str(exported.model) in not_anomaly.stderr
    AnomalyDetector().fit(exported.events).save(tmp_path / "anomaly")
    out = tmp_path / "rt"
    result = CliRunner().invoke(
        main,
        ["export", str(exported.model), "-o", str(out), "--anomaly", str(tmp_path / "anomaly"), "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["risk"] is True
    engine = InferenceEngine.load(out, max_wait_ms=0.0)
    try:
        events = [e for e in exported.events if e["user_id"] == "u3"]
        risk = engine.predict(events, user_id="u3", k=3).risk
        assert risk is not None and 0 <= risk.score <= 100
    finally:
        engine.close()


def test_serve_refuses_to_start_without_keys(exported, tmp_path):
    result = CliRunner().invoke(
        main, ["serve", str(exported.runtime), "--store", f"sqlite:///{tmp_path}/e.db"]
    )
    assert result.exit_code == 2
    assert "error: keys: no API keys" in result.stderr
    bad = CliRunner().invoke(main, ["serve", str(exported.runtime), "--no-auth", "--max-events", "0"])
    assert bad.exit_code == 2 and "max_events_per_user" in bad.stderr


def test_serve_over_loopback_with_file_and_environment_keys(exported, tmp_path):
    keyfile = tmp_path / "keys.json"
    reader = CliRunner().invoke(main, ["keys", "add", str(keyfile), "--scopes", "read"]).stdout.strip()
    port = free_port()
    env = {**os.environ, "SEQINTENT_API_KEYS": "local-writer", "PYTHONPATH": os.pathsep.join(sys.path)}
    store = tmp_path / "events.db"
    command = [sys.executable, "-c", "from seqintent.cli import main; main()"]
    command += ["serve", str(exported.model), "--port", str(port)]
    command += ["--keys", str(keyfile), "--store", f"sqlite:///{store}", "--max-wait-ms", "50"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(proc, base, seconds=60)
        events = [e for e in exported.events if e["user_id"] in {f"u{i}" for i in range(16)}]
        write, read = {"Authorization": "Bearer local-writer"}, {"Authorization": f"Bearer {reader}"}
        r = httpx.post(f"{base}/v1/events", json={"events": events}, headers=write)
        assert r.json()["accepted"] == len(events)
        assert httpx.post(f"{base}/v1/events", json={"events": events}, headers=read).status_code == 403
        assert httpx.get(f"{base}/v1/users/u1/intent").status_code == 401
        answers: dict[int, dict] = {}

        def ask(i: int) -> None:
            answers[i] = httpx.get(
                f"{base}/v1/users/u{i}/intent?at=1713000000000", headers=read, timeout=30
            ).json()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(answers) == list(range(16))
        assert all(a["source"] == "model" and len(a["next_items"]) == 10 for a in answers.values())
        metrics = httpx.get(f"{base}/metrics").text
        calls = float(metrics.split("seqintent_model_batch_size_count ")[1].split()[0])
        assert calls < 16  # concurrent requests shared model calls
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    logs = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    assert {"started", "stopped"} <= {x["msg"] for x in logs}
    assert any(x.get("route") == "/v1/users/{user_id}/intent" and x.get("status") == 200 for x in logs)
    from seqintent.serve import open_store

    reopened = open_store(f"sqlite:///{store}")
    assert reopened.stats().events == len(events)
    reopened.close()


def _worker_pids(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (uvicorn's workers under its supervisor)."""
    pids = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = Path(f"/proc/{stat}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                pids.append(int(stat))
    return pids


def _two_workers(exported, port: int, store: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment of ``seqintent serve --workers 2`` on ``port`` with a SQLite store."""
    env = {**os.environ, "SEQINTENT_API_KEYS": "k", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-c", "from seqintent.cli import main; main()"]
    command += ["serve", str(exported.runtime), "--port", str(port), "--workers", "2"]
    command += ["--store", f"sqlite:///{store}", "--log-level", "warning"]
    return command, env


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts worker processes in /proc")
def test_serve_with_two_workers_shares_the_store_cache_rule_and_metrics(exported, tmp_path):
    port = free_port()
    command, env = _two_workers(exported, port, tmp_path / "events.db")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": "Bearer k"}
    try:
        _wait_until_healthy(proc, base, seconds=90)
        assert len(_worker_pids(proc.pid)) >= 2
        users = [f"u{i}" for i in range(12)]
        events = [e for e in exported.events if e["user_id"] in set(users)]
        for user in users:  # one connection per request: the kernel hands them to either worker
            batch = [e for e in events if e["user_id"] == user]
            assert httpx.post(f"{base}/v1/events", json={"events": batch}, headers=auth).status_code == 200
        # a short history (the answer counts all of it): three of u1's events as user "w"
        short = [{**e, "user_id": "w", "event_id": f"w{i}"} for i, e in enumerate(events[:3])]
        assert httpx.post(f"{base}/v1/events", json={"events": short}, headers=auth).json()["accepted"] == 3
        url = f"{base}/v1/users/w/intent?at=1713000000000"
        for _ in range(6):  # both workers answer and cache w
            assert httpx.get(url, headers=auth).json()["history"]["events"] == 3
        new = {**short[-1], "ts": short[-1]["ts"] + 60_000, "action": "buy", "event_id": "after-cache"}
        assert httpx.post(f"{base}/v1/events", json={"events": [new]}, headers=auth).json()["accepted"] == 1
        for _ in range(6):  # whichever worker answers, no answer cached before the event is served
            assert httpx.get(url, headers=auth).json()["history"]["events"] == 4
        # with several workers each runs the model on its event loop: the stateless answer is the
        # stored user's answer, whichever worker gives it
        given = {"events": [*short, new], "at": 1713000000000}
        answers = [httpx.post(f"{base}/v1/predict", json=given, headers=auth) for _ in range(6)]
        assert {r.status_code for r in answers} == {200}
        stored = httpx.get(url, headers=auth).json()
        for r in answers:
            assert r.json()["next_items"] == stored["next_items"]
            assert r.json()["intents"] == stored["intents"]
        metrics = httpx.get(f"{base}/metrics").text
        posts = 'seqintent_request_seconds_count{method="POST",route="/v1/events",status="200"} '
        assert float(metrics.split(posts)[1].split()[0]) == len(users) + 2  # summed over the workers
        accepted = 'seqintent_events_total{outcome="accepted"} '
        assert float(metrics.split(accepted)[1].split()[0]) == len(events) + 4
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()


@pytest.mark.skipif(not reuse_port_supported(), reason="SO_REUSEPORT balancing is Linux's")
def test_each_worker_listens_on_its_own_socket_of_the_one_port():
    first = reuse_port_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = reuse_port_socket("127.0.0.1", port)  # a plain socket could not bind a taken port
    try:
        for sock in (first, second):
            sock.listen(64)
        accepted = 0
        for _ in range(32):  # the kernel hands each new connection to one of the listening sockets
            with socket.create_connection(("127.0.0.1", port)):
                pass
        for sock in (first, second):
            sock.settimeout(0.5)
            while True:
                try:
                    sock.accept()[0].close()
                except TimeoutError:
                    break
                accepted += 1
        assert accepted == 32
        with pytest.raises(OSError):
            socket.socket().bind(("127.0.0.1", port))
    finally:
        first.close()
        second.close()


@pytest.mark.skipif(not reuse_port_supported(), reason="the per-worker sockets are Linux's")
def test_a_worker_that_cannot_start_stops_the_service_with_an_error(exported, tmp_path):
    (tmp_path / "a-file").write_text("")
    command, env = _two_workers(exported, free_port(), tmp_path / "a-file" / "events.db")
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Application startup failed" in proc.stderr
