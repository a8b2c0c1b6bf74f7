"""The real-time service under load: latency and throughput, ONNX Runtime vs eager PyTorch, tiered savings.

python bench/serve.py [--work bench/out/serve] [--rate 300] [--seconds 20] [--json]

What it does (each step prints one line; the result is one JSON object on stdout with --json):

1. Prepares, when missing: the Taobao sample and the 2-hour time slice as Datasets (preset ``taobao``), the
   served model (bench/configs/serve_taobao.yaml: the Taobao configuration reading 200 events), and its
   Runtime folder (fp32 and int8).
2. **Model time per request**, in this process, interleaved on the same 200-event histories (batch of one,
   one thread each): the exported graph in ONNX Runtime (fp32, int8) against eager PyTorch running the same
   computation (next-item scores and the explanation's roll-out), and the whole engine path (encode, model,
   top-10, explanation).
3. **HTTP under load**: ``seqintent serve`` in its own process on loopback (SQLite store, one worker). A load
   process sends ``POST /v1/predict`` — a 200-event history of a sample user, top-10 with explanation — at
   Poisson arrivals of ``--rate`` per second for ``--seconds``, while a replay process streams the time
   slice into ``POST /v1/events`` (``--replay-rate`` events per second, in batches every 100 ms) and asks
   ``GET /v1/users/{id}/intent`` for each batch's users. Latency counts from when a request was due.
4. **Tiered inference on the replay**: the whole time slice through the service in process (same code as
   the HTTP routes), asking each user's intent after each of their events, on the replay's clock; once
   with tiers and once with every event invalidating, counting model runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spin-waits collapse on a shared 2-core machine

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _loadgen

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEQINTENT_SHARED_DATA", ROOT.parent / "shared" / "data"))
KEY = "bench-key"
HISTORY = 200


def log(message: str) -> None:
    print(f"[serve-bench] {message}", file=sys.stderr, flush=True)


def run(command: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


VARIANTS = {  # served model: (folder name, training config)
    "len50": ("taobao", "serve_taobao.yaml"),
    "len200": ("taobao-len200", "serve_taobao_len200.yaml"),
}


def prepare(work: Path, variant: str) -> dict[str, Path]:
    """Datasets, the served model and its Runtime (built only when missing)."""
    cli = [sys.executable, "-c", "from seqintent.cli import main; main()"]
    name, config_name = VARIANTS[variant]
    paths = {
        "sample": work / "data" / "taobao",
        "slice": work / "data" / "taobao-slice",
        "model": work / "models" / name,
    }
    if not (paths["sample"] / "manifest.json").is_file():
        log("ingest the Taobao sample")
        run(
            [
                *cli,
                "ingest",
                "--preset",
                "taobao",
                str(DATA / "taobao-userbehavior-sample"),
                "-o",
                str(paths["sample"]),
            ]
        )
    if not (paths["slice"] / "manifest.json").is_file():
        log("ingest the Taobao time slice")
        source = DATA / "taobao-userbehavior-timeslice"
        run([*cli, "ingest", "--preset", "taobao", str(source), "-o", str(paths["slice"])])
    if not (paths["model"] / "manifest.json").is_file():
        log(f"train the served model (bench/configs/{config_name})")
        config = ROOT / "bench" / "configs" / config_name
        run(
            [
                *cli,
                "train",
                str(paths["sample"]),
                "-o",
                str(paths["model"]),
                "--config",
                str(config),
                "--quiet",
            ]
        )
    paths["runtime"] = paths["model"].with_name(name + ".runtime")
    if not (paths["runtime"] / "model.int8.onnx").is_file():
        log("export the runtime (fp32 + int8)")
        run([*cli, "export", str(paths["model"]), "--int8", "--overwrite"])
    return paths


def online_events(dataset: Path, *, order: str) -> list[dict[str, Any]]:
    """The Dataset's cleaned events as online events (canonical dicts), by user or by time."""
    import pyarrow.parquet as pq

    table = pq.read_table(
        dataset / "events.parquet",
        columns=["user_id", "ts", "action", "item_id", "category", "split", "input_order"],
    )
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    events = [
        {
            "event_id": f"{cols['user_id'][i]}-{cols['input_order'][i]}",
            "user_id": str(cols["user_id"][i]),
            "ts": int(cols["ts"][i]),
            "action": cols["action"][i],
            "item_id": str(cols["item_id"][i]),
            "category": str(cols["category"][i]),
            "split": cols["split"][i],
            "order": cols["input_order"][i],
        }
        for i in range(table.num_rows)
    ]
    events.sort(
        key=(lambda e: (e["ts"], e["order"]))
        if order == "time"
        else (lambda e: (e["user_id"], e["ts"], e["order"]))
    )
    for e in events:
        del e["order"]
    return events


def histories_200(sample: Path) -> list[tuple[list[dict[str, Any]], int]]:
    """(the 200 events before a user's test event, the test event's time) for users with that many."""
    by_user: dict[str, list[dict[str, Any]]] = {}
    for e in online_events(sample, order="user"):
        by_user.setdefault(e.pop("user_id"), []).append(e)
    out = []
    for events in by_user.values():
        if len(events) > HISTORY and events[-1]["split"] == "test":
            history = [{k: v for k, v in e.items() if k != "split"} for e in events[-HISTORY - 1 : -1]]
            out.append((history, events[-1]["ts"]))
    return out


def model_time(runtime: Path, model: Path, histories: list, repeats: int) -> dict[str, Any]:
    """Per-request model time, interleaved: ONNX fp32, ONNX int8, eager PyTorch; and the whole engine path."""
    import torch

    from seqintent.models import INPUT_NAMES, NextItemModel
    from seqintent.runtime import ExplainedNetwork, InferenceEngine, pad_batch

    torch.set_num_threads(1)
    fp32 = InferenceEngine.load(runtime, precision="fp32", max_wait_ms=0.0)
    int8 = InferenceEngine.load(runtime, precision="int8", max_wait_ms=0.0)
    eager = ExplainedNetwork(NextItemModel.from_pretrained(model).network.eval()).eval()
    names = ("onnx_fp32", "onnx_int8", "eager_pytorch", "engine_predict")
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}  # this thread's CPU time: steadier on a busy machine
    encoded = [fp32.encode(h, at) for h, at in histories]
    inputs = [pad_batch([e], INPUT_NAMES) for e in encoded]
    diffs = []

    def timed(name: str, call: Any) -> Any:
        w, c = time.perf_counter(), time.thread_time()
        out = call()
        cpu[name].append(time.thread_time() - c)
        wall[name].append(time.perf_counter() - w)
        return out

    for r in range(repeats):
        for i, (enc, x) in enumerate(zip(encoded, inputs, strict=True)):
            got = timed("onnx_fp32", lambda enc=enc: fp32.run_graph([enc])[0])
            timed("onnx_int8", lambda enc=enc: int8.run_graph([enc]))
            with torch.inference_mode():
                want = timed(
                    "eager_pytorch", lambda x=x: eager(*(torch.from_numpy(x[n]) for n in INPUT_NAMES))
                )
            timed("engine_predict", lambda i=i: fp32.predict(histories[i][0], k=10, at_ms=histories[i][1]))
            if r == 0:
                finite = np.isfinite(got[0])
                diffs.append(float(np.abs(got[0][finite] - want[0][0].numpy()[finite]).max()))
    fp32.close()
    int8.close()
    out: dict[str, Any] = {
        "wall_ms": {n: _loadgen.percentiles_ms(xs) for n, xs in wall.items()},
        "cpu_ms": {n: _loadgen.percentiles_ms(xs) for n, xs in cpu.items()},
    }
    for kind, table in (("wall", wall), ("cpu", cpu)):
        eager_median = statistics.median(table["eager_pytorch"])
        for name in ("onnx_fp32", "onnx_int8"):
            out[f"eager_over_{name}_{kind}_median"] = round(eager_median / statistics.median(table[name]), 2)
    out["max_abs_diff_fp32_vs_eager"] = max(diffs)
    out["history_length"] = HISTORY
    out["events_read_by_model"] = int(encoded[0].length)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    runtime: Path, store: Path, port: int, max_wait_ms: float, precision: str
) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SEQINTENT_API_KEYS": KEY}
    command = [sys.executable, "-c", "from seqintent.cli import main; main()", "serve", str(runtime)]
    command += ["--port", str(port), "--store", f"sqlite:///{store}", "--max-wait-ms", str(max_wait_ms)]
    command += ["--log-level", "warning"] + (["--int8"] if precision == "int8" else [])
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if b" 200 " in s.recv(64):
                    return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read()}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def scrape(port: int) -> dict[str, float]:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    out = {}
    for line in data.split(b"\r\n\r\n", 1)[1].decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_load(
    paths: dict[str, Path], histories: list, args: argparse.Namespace, max_wait_ms: float, precision: str
) -> dict[str, Any]:
    """The service under the load process and the replay process, at the same time."""
    body = [
        _loadgen.request_bytes(
            "POST",
            "/v1/predict",
            KEY,
            json.dumps({"events": h, "k": 10, "at": at, "explain": True}).encode(),
        )
        for h, at in histories
    ]
    replay_events = online_events(paths["slice"], order="time")
    for e in replay_events:
        del e["split"]
    n_replay = int(args.replay_rate * args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(paths["runtime"], Path(tmp) / "events.db", port, max_wait_ms, precision)
        try:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(2) as pool:
                warm = pool.apply_async(_loadgen.open_loop, (port, body, 50.0, 2.0))
                warm.get()
                before = scrape(port)
                cpu_before = cpu_seconds(server.pid)
                load = pool.apply_async(_loadgen.open_loop, (port, body, args.rate, args.seconds))
                replay = pool.apply_async(
                    _loadgen.replay, (port, KEY, replay_events[:n_replay], args.replay_rate, 0.1, True)
                )
                load_result, replay_result = load.get(), replay.get()
                cpu_used = cpu_seconds(server.pid) - cpu_before
            metrics = scrape(port)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    batches = metrics.get("seqintent_model_batch_size_count", 0.0) - before.get(
        "seqintent_model_batch_size_count", 0
    )
    in_batches = metrics.get("seqintent_model_batch_size_sum", 0.0) - before.get(
        "seqintent_model_batch_size_sum", 0
    )
    requests = (
        load_result["completed"]
        + len(replay_result["post_latencies_s"])
        + len(replay_result["ask_latencies_s"])
    )
    return {
        "precision": precision,
        "max_wait_ms": max_wait_ms,
        "server_cpu_s": round(cpu_used, 2),
        "server_cpu_ms_per_request": round(1000 * cpu_used / max(requests, 1), 3),
        "load": {
            "endpoint": "POST /v1/predict (200-event history, k=10, explain)",
            "rate_target_rps": args.rate,
            "seconds": args.seconds,
            "sent": load_result["sent"],
            "completed": load_result["completed"],
            "throughput_rps": round(load_result["throughput_rps"], 1),
            "statuses": load_result["statuses"],
            "errors": load_result["n_errors"],
            "latency_ms": _loadgen.percentiles_ms(load_result["latencies_s"]),
        },
        "replay": {
            "events_posted": replay_result["events"],
            "accepted": replay_result["accepted"],
            "events_per_s_target": args.replay_rate,
            "post_latency_ms": _loadgen.percentiles_ms(replay_result["post_latencies_s"]),
            "intent_latency_ms": _loadgen.percentiles_ms(replay_result["ask_latencies_s"]),
            "intent_sources": replay_result["ask_sources"],
        },
        "model_calls": int(batches),
        "mean_batch_size": round(in_batches / batches, 3) if batches else None,
    }


class ReplayClock:
    """The replay's "now": the time of the event being replayed (UTC epoch ms)."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def tier_savings(paths: dict[str, Path], limit: int | None) -> dict[str, Any]:
    """The whole time slice through the service in process: model runs with and without tiers."""
    from seqintent.runtime import InferenceEngine
    from seqintent.serve import AnswerParams, IntentService, ServeSettings, open_store

    events = online_events(paths["slice"], order="time")[:limit]
    for e in events:
        del e["split"]
    out: dict[str, Any] = {"events": len(events), "asks": len(events)}
    for tiered in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            # durability is not the subject here: commit without fsync per event
            settings = ServeSettings(store=f"sqlite:///{tmp}/events.db?synchronous=normal", tiered=tiered)
            clock = ReplayClock()
            engine = InferenceEngine.load(paths["runtime"], max_wait_ms=0.0)
            store = open_store(settings.store)
            service = IntentService(engine, store, settings, clock=clock)
            sources: dict[str, int] = {}
            params = AnswerParams(k=10, at_ms=None, exclude_seen=False)
            t0 = time.perf_counter()
            for e in events:
                clock.now = e["ts"]
                service.ingest([e])
                source = service.answer(e["user_id"], params).source
                sources[source] = sources.get(source, 0) + 1
            seconds = time.perf_counter() - t0
            service.close()
        out["tiered" if tiered else "every_event_invalidates"] = {
            "answers": sources,
            "model_runs": sources.get("model", 0),
            "seconds": round(seconds, 1),
        }
    strict = out["every_event_invalidates"]["model_runs"]
    out["model_work_saved"] = round(1 - out["tiered"]["model_runs"] / strict, 4) if strict else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "serve")
    parser.add_argument(
        "--variant", choices=sorted(VARIANTS), default="len50", help="served model: events it reads"
    )
    parser.add_argument("--rate", type=float, default=300.0, help="load requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration")
    parser.add_argument(
        "--replay-rate", type=float, default=50.0, help="replayed events per second during the load"
    )
    parser.add_argument(
        "--max-wait-ms", type=float, nargs="+", default=[0.0, 2.0], help="micro-batching budgets to run"
    )
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"], choices=["fp32", "int8"])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the histories for model time")
    parser.add_argument("--replay-events", type=int, default=0, help="events of the tier replay (0: all)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["model", "http", "tiers"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    paths = prepare(args.work, args.variant)
    histories = histories_200(paths["sample"])
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "variant": args.variant,
        "runtime": str(paths["runtime"]),
        "histories": len(histories),
    }
    if "model" not in args.skip:
        log(f"model time per request on {len(histories)} histories of {HISTORY} events")
        result["model_time_ms"] = model_time(paths["runtime"], paths["model"], histories, args.repeats)
    if "http" not in args.skip:
        result["http"] = []
        for precision in args.precisions:
            for wait in args.max_wait_ms:
                log(f"HTTP load at {args.rate:g}/s for {args.seconds:g} s, {precision}, max wait {wait:g} ms")
                result["http"].append(http_load(paths, histories, args, wait, precision))
    if "tiers" not in args.skip:
        log("tiered inference over the time-slice replay")
        result["tiers"] = tier_savings(paths, args.replay_events or None)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
