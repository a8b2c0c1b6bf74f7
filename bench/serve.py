"""The real-time service under load: latency and throughput, ONNX Runtime vs eager PyTorch, tiered savings.

python bench/serve.py [--work bench/out/serve] [--rate 300] [--seconds 20] [--json] [--write-md]
python bench/serve.py --from-json RESULT.json   (writes the BENCHMARKS.md section from a saved result)

What it does (each step prints one line; the result is one JSON object on stdout with --json; ``--write-md``
rewrites the ``serve`` section of BENCHMARKS.md). Steps 2-5 take about 8-10 minutes on 2 cores; the first run
also prepares (step 1: ingest, a short training and the export, about 10 minutes on a busy machine).

1. Prepares, when missing: the Taobao sample and the 2-hour time slice as Datasets (preset ``taobao``), the
   served model (bench/configs/serve_taobao.yaml: the Taobao configuration, a few epochs on one thread, with
   its intent heads), and its Runtime folder (fp32 and int8).
2. **Model time per request**, in this process, interleaved on the same 200-event histories (batch of one,
   one thread each): the exported graph in ONNX Runtime (fp32, int8) against eager PyTorch running the same
   computation (next-item scores and the explanation's roll-out), and the whole engine path (encode, model,
   top-10, explanation).
3. **HTTP under load**: ``seqintent serve`` on loopback (SQLite store; once per ``--workers`` count). A load
   process sends ``POST /v1/predict`` — a 200-event history of a sample user, top-10 with explanation — at
   Poisson arrivals of ``--rate`` per second for ``--seconds``, while a replay process streams the time
   slice into ``POST /v1/events`` (``--replay-rate`` events per second, in batches every 100 ms) and asks
   ``GET /v1/users/{id}/intent`` for each batch's users. Latency counts from when a request was due. Each
   set-up runs ``--http-repeats`` times (set-ups interleaved); the run with the median p99 is reported.
4. **Tiered inference on the replay**: the time slice (its first ``--replay-events``; 0: all 110k) through
   the service in process (same code as the HTTP routes), asking each user's intent after each of their
   events, on the replay's clock; once with tiers and once with every event invalidating, counting model runs.
5. **int8 quality** (bench/runtime_quality.py): PyTorch, ONNX fp32 and ONNX int8 of the served model on the
   sample's test split, full-catalogue ranking.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import platform
import shutil
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
import runtime_quality

from seqintent.serve import ServeSettings, default_model_thread

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


def _loads(model: Path) -> bool:
    """Whether this version of seqintent loads the Model folder (one trained by an older one may not)."""
    from seqintent.errors import ArtifactError
    from seqintent.models import NextItemModel

    try:
        NextItemModel.from_pretrained(model)
    except ArtifactError as exc:
        log(f"the served model does not load with this version, so it is trained again: {exc}")
        return False
    return True


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
    if (paths["model"] / "manifest.json").is_file() and not _loads(paths["model"]):
        shutil.rmtree(paths["model"])
        shutil.rmtree(paths["model"].with_name(name + ".runtime"), ignore_errors=True)
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

    from seqintent.models import NextItemModel
    from seqintent.runtime import InferenceEngine, explained_network, pad_batch

    torch.set_num_threads(1)
    fp32 = InferenceEngine.load(runtime, precision="fp32", max_wait_ms=0.0)
    int8 = InferenceEngine.load(runtime, precision="int8", max_wait_ms=0.0)
    eager = explained_network(NextItemModel.from_pretrained(model))  # the computation the graph holds
    names = ("onnx_fp32", "onnx_int8", "eager_pytorch", "engine_predict")
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}  # this thread's CPU time: steadier on a busy machine
    encoded = [fp32.encode(h, at) for h, at in histories]
    names_in = eager.input_names  # the token inputs, and the history summary where the heads read one
    inputs = [pad_batch([e], names_in) for e in encoded]
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
                want = timed("eager_pytorch", lambda x=x: eager(*(torch.from_numpy(x[n]) for n in names_in)))
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
    runtime: Path,
    store: Path,
    port: int,
    max_wait_ms: float | None,
    precision: str,
    workers: int = 1,
    model_on: str = "auto",
) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SEQINTENT_API_KEYS": KEY}
    command = [sys.executable, "-c", "from seqintent.cli import main; main()", "serve", str(runtime)]
    command += ["--port", str(port), "--store", f"sqlite:///{store}"]
    command += [] if max_wait_ms is None else ["--max-wait-ms", str(max_wait_ms)]
    command += ["--log-level", "warning", "--workers", str(workers)]
    command += ["--int8"] if precision == "int8" else []
    command += {"auto": [], "thread": ["--model-thread"], "loop": ["--model-on-loop"]}[model_on]
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
    """User + system CPU time so far of a process and its live children (the server's workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def http_load(
    paths: dict[str, Path],
    histories: list,
    args: argparse.Namespace,
    max_wait_ms: float | None,
    precision: str,
    workers: int = 1,
    model_on: str = "auto",
) -> dict[str, Any]:
    """The service under the load process and the replay process, at the same time."""
    thread = default_model_thread(workers) if model_on == "auto" else model_on == "thread"
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
        server = start_server(
            paths["runtime"], Path(tmp) / "events.db", port, max_wait_ms, precision, workers, model_on
        )
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
        "workers": workers,
        # what the server ran, serve's own defaults resolved
        "model_on": "thread" if thread else "loop",
        "max_wait_ms": ServeSettings(model_thread=thread, max_wait_ms=max_wait_ms).batch_wait_ms,
        "server_cpu_s": round(cpu_used, 2),
        "server_cpu_ms_per_request": round(1000 * cpu_used / max(requests, 1), 3),
        # the clients share the machine: what the load and replay processes took
        "load_client_cpu_ms_per_request": round(1000 * load_result["cpu_s"] / max(load_result["sent"], 1), 3),
        "replay_client_cpu_s": round(replay_result["cpu_s"], 2),
        "load": {
            "endpoint": "POST /v1/predict (200-event history, k=10, explain)",
            "rate_target_rps": args.rate,
            "seconds": args.seconds,
            "sent": load_result["sent"],
            "completed": load_result["completed"],
            "throughput_rps": round(load_result["throughput_rps"], 1),
            "statuses": load_result["statuses"],
            "errors": load_result["n_errors"],
            "dropped_unsent_by_deadline": load_result["dropped"],
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
        "--max-wait-ms",
        type=lambda x: None if x == "auto" else float(x),
        nargs="+",
        default=[None],
        help="micro-batching budgets to run, ms (auto: serve's default)",
    )
    parser.add_argument(
        "--model-on",
        nargs="+",
        default=["auto"],
        choices=["auto", "thread", "loop"],
        help="where each worker runs the model (serve --model-thread / --model-on-loop; "
        "auto: serve's default)",
    )
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"], choices=["fp32", "int8"])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="server processes to try (serve --workers)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="passes over the histories for model time")
    parser.add_argument("--http-repeats", type=int, default=3, help="runs of each HTTP set-up (median kept)")
    parser.add_argument(
        "--replay-events", type=int, default=10000, help="events of the tier replay (0: all 110k)"
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["model", "http", "tiers", "quality"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-md", action="store_true", help="rewrite the serve section of BENCHMARKS.md")
    parser.add_argument(
        "--from-json", type=Path, help="write the section from a result this script printed (runs nothing)"
    )
    args = parser.parse_args()
    if args.from_json is not None:
        write_markdown(json.loads(args.from_json.read_text()))
        return
    started = time.perf_counter()

    paths = prepare(args.work, args.variant)
    histories = histories_200(paths["sample"])
    result: dict[str, Any] = {
        "command": " ".join(["python", "bench/serve.py", *(a for a in sys.argv[1:] if a != "--json")]),
        "machine": {
            "cpus": os.cpu_count(),
            "niceness": os.nice(0),
            "cpu": platform.processor() or platform.machine(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "variant": args.variant,
        "runtime": str(paths["runtime"]),
        "histories": len(histories),
        "http_repeats": args.http_repeats,
    }
    if "model" not in args.skip:
        log(f"model time per request on {len(histories)} histories of {HISTORY} events")
        result["model_time_ms"] = model_time(paths["runtime"], paths["model"], histories, args.repeats)
        m = result["model_time_ms"]
        log(
            f"  eager / ONNX fp32: {m['eager_over_onnx_fp32_cpu_median']}x CPU, "
            f"{m['eager_over_onnx_fp32_wall_median']}x wall"
        )
    if "http" not in args.skip:
        # the machine's speed drifts from minute to minute: every set-up runs --http-repeats times,
        # the set-ups interleaved, and the run with the median p99 stands for its set-up
        runs: dict[tuple[str, float | None, int, str], list[dict[str, Any]]] = {}
        setups = list(itertools.product(args.precisions, args.max_wait_ms, args.workers, args.model_on))
        for repeat in range(args.http_repeats):
            for precision, wait, workers, model_on in setups:
                log(
                    f"HTTP load at {args.rate:g}/s for {args.seconds:g} s, {precision}, "
                    f"max wait {'auto' if wait is None else f'{wait:g} ms'}, {workers} worker(s), "
                    f"model on {model_on}, "
                    f"run {repeat + 1} of {args.http_repeats}"
                )
                run_result = http_load(paths, histories, args, wait, precision, workers, model_on)
                runs.setdefault((precision, wait, workers, model_on), []).append(run_result)
                load = run_result["load"]
                log(
                    f"  {load['throughput_rps']} req/s, latency ms {load['latency_ms']}, "
                    f"errors {load['errors']}, unsent {load['dropped_unsent_by_deadline']}"
                )
        result["http"] = [_median_run(runs[setup]) for setup in setups]
    if "tiers" not in args.skip:
        log("tiered inference over the time-slice replay")
        result["tiers"] = tier_savings(paths, args.replay_events or None)
        log(f"  model runs saved: {result['tiers']['model_work_saved']}")
    if "quality" not in args.skip:
        log("int8 quality on the sample's test split (bench/runtime_quality.py)")
        result["int8_quality"] = runtime_quality.quality(paths["model"], paths["sample"])
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = targets(result, args.rate)
    if args.write_md:
        write_markdown(result)
    print(json.dumps(result, indent=None if args.json else 2))


P99_TARGET_MS, SPEEDUP_TARGET = 15.0, 3.0


def _p99(run: dict[str, Any]) -> float:
    return run["load"]["latency_ms"].get("p99", float("inf"))


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median p99 (the upper one of an even count), with every run's p99 beside it."""
    ordered = sorted(runs, key=_p99)
    return ordered[len(ordered) // 2] | {"p99_each_run_ms": [round(_p99(r), 1) for r in runs]}


def targets(result: dict[str, Any], rate: float) -> dict[str, Any]:
    """The issue's targets, each with the figure it is judged on and whether it is met."""
    out: dict[str, Any] = {}
    rows = result.get("http", [])
    if rows:
        # any server set-up may meet it (precision, workers, batching wait; int8's quality change is
        # reported below): the set-up whose median run has the lowest p99
        best = min(rows, key=_p99)
        load = best["load"]
        p99 = load["latency_ms"].get("p99")
        out["p99_under_15ms_at_300rps"] = {
            "p99_ms": p99,
            "p99_each_run_ms": best.get("p99_each_run_ms", [p99]),
            "throughput_rps": load["throughput_rps"],
            "rate_target_rps": rate,
            "precision": best["precision"],
            "workers": best.get("workers", 1),
            "model_on": best.get("model_on", "thread"),
            "met": p99 is not None
            and p99 < P99_TARGET_MS
            and rate >= 300
            and load["errors"] == 0
            and load["dropped_unsent_by_deadline"] == 0
            and load["throughput_rps"] >= 0.95 * rate,
        }
    model = result.get("model_time_ms")
    if model:
        out["onnx_3x_eager"] = {
            "eager_over_onnx_fp32_cpu_median": model["eager_over_onnx_fp32_cpu_median"],
            "eager_over_onnx_fp32_wall_median": model["eager_over_onnx_fp32_wall_median"],
            "met": model["eager_over_onnx_fp32_cpu_median"] >= SPEEDUP_TARGET,
        }
    return out


def _workers_compared(rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per precision run with one and with two workers in the same run."""
    out = []
    for precision in dict.fromkeys(r["precision"] for r in rows):
        by = {r.get("workers", 1): r for r in rows if r["precision"] == precision}
        if 1 in by and 2 in by:
            one, two = by[1]["load"]["latency_ms"], by[2]["load"]["latency_ms"]
            out.append(
                f"Same run, {precision}: two workers instead of one take p50 from {one['p50']:.1f} to "
                f"{two['p50']:.1f} ms and p99 from {one['p99']:.1f} to {two['p99']:.1f} ms, at "
                f"{by[2]['server_cpu_ms_per_request']} against {by[1]['server_cpu_ms_per_request']} ms of "
                f"server CPU per request (each process batches fewer requests: mean batch "
                f"{by[2]['mean_batch_size']} against {by[1]['mean_batch_size']})."
            )
    return ["", " ".join(out)] if out else []


def _ms(d: dict[str, float], key: str) -> str:
    return f"{d[key]:.1f}" if key in d else "–"


def write_markdown(result: dict[str, Any]) -> None:
    """Rewrite the ``serve`` section of BENCHMARKS.md (created at the end of the file when missing)."""
    m = result["machine"]
    lines = [
        "## Serving: latency, throughput, ONNX Runtime vs eager PyTorch, tiered inference, int8",
        "",
        f"`{result['command']}` ({result['seconds']:.0f} s; {m['cpus']} cores, load average "
        f"{m['load_average_at_start'][0]:.2f} at start, {m['load_average_at_end'][0]:.2f} at end"
        + (f", run at niceness {m['niceness']}" if m.get("niceness") else "")
        + "). A load average above the core count means other jobs took most of the CPU: the latencies "
        "and rates below are then upper / lower bounds; re-run in a quiet window to compare.",
        "",
        "Served model: the Taobao sample (bench/configs/serve_taobao.yaml: 50 events read, repeat head, "
        "intent heads; a short training, at most 3 epochs or 4 minutes: speed, not quality, is measured "
        "here). Server: "
        "`seqintent serve` (uvicorn with `--workers N` processes sharing one SQLite store, ONNX Runtime on "
        "1 thread per process) on loopback.",
        "",
    ]
    if "http" in result:
        lines += [
            "**HTTP under load** — a load process sends `POST /v1/predict` (a 200-event history, top-10, "
            "explanation: the full predict result) at Poisson arrivals; at the same time a replay process "
            "streams the Taobao time slice into `POST /v1/events` and asks `GET /v1/users/{id}/intent` for "
            "each batch's users. Latency counts from when a request was due (open loop).",
            "",
            f"Each set-up ran {result['http_repeats']} times, the set-ups interleaved; a row is the run "
            "with the median p99, and the last column gives the p99 of every run (the machine's speed "
            "drifts from minute to minute).",
            "",
            "| precision | workers | model on | max wait | target rps | achieved rps | p50 ms | p95 ms | "
            "p99 ms | errors / unsent | "
            "replay intent p50 / p99 ms | mean batch | server CPU ms / request | p99 of each run |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in result["http"]:
            load, replay = r["load"], r["replay"]
            lat, ask = load["latency_ms"], replay["intent_latency_ms"]
            lines.append(
                f"| {r['precision']} | {r.get('workers', 1)} | {r.get('model_on', 'thread')} | "
                f"{r['max_wait_ms']:g} ms | "
                f"{load['rate_target_rps']:g} | "
                f"{load['throughput_rps']:.0f} | {_ms(lat, 'p50')} | {_ms(lat, 'p95')} | {_ms(lat, 'p99')} | "
                f"{load['errors']} / {load.get('dropped_unsent_by_deadline', 0)} | "
                f"{_ms(ask, 'p50')} / {_ms(ask, 'p99')} | {r['mean_batch_size']} | "
                f"{r['server_cpu_ms_per_request']} | "
                f"{', '.join(f'{x:.1f}' for x in r.get('p99_each_run_ms', [lat.get('p99', 0.0)]))} |"
            )
        cpu_ms = result["http"][0]["server_cpu_ms_per_request"]
        lines += [
            "",
            f"At {cpu_ms} ms of server CPU per request (all requests of the run, replay included), one "
            f"server process, which uses about one core, has CPU for at most {1000 / cpu_ms:.0f} requests/s; "
            "a second worker adds the other core, which the load and replay processes also need here "
            f"(the load process took {result['http'][0].get('load_client_cpu_ms_per_request', '?')} ms of "
            f"CPU per request it sent, the replay {result['http'][0].get('replay_client_cpu_s', '?')} s in "
            "all).",
        ]
        lines += _workers_compared(result["http"])
        lines.append("")
    model = result.get("model_time_ms")
    if model:
        cpu, wall = model["cpu_ms"], model["wall_ms"]
        lines += [
            f"**Model time per request** (same run, one process, batch of one, 1 thread, "
            f"{result['histories']} histories of {model['history_length']} events, the model reads "
            f"{model['events_read_by_model']}): median thread-CPU ms (wall ms). Eager PyTorch runs the same "
            "computation as the graph (next items, heads, roll-out); max |ONNX - eager| "
            f"{model['max_abs_diff_fp32_vs_eager']:.1e}. The engine's CPU figure counts the calling thread "
            "only (the model runs in the micro-batcher's thread): its wall time is the one to read.",
            "",
            "| | ONNX fp32 | ONNX int8 | eager PyTorch | "
            "engine predict (encode + model + top-10 + explanation) |",
            "|---|---|---|---|---|",
            "| median ms | "
            + " | ".join(
                f"{cpu[n]['p50']:.2f} ({wall[n]['p50']:.2f})"
                for n in ("onnx_fp32", "onnx_int8", "eager_pytorch", "engine_predict")
            )
            + " |",
            "",
            f"Eager / ONNX fp32: {model['eager_over_onnx_fp32_cpu_median']}× (CPU), "
            f"{model['eager_over_onnx_fp32_wall_median']}× (wall); eager / int8: "
            f"{model['eager_over_onnx_int8_cpu_median']}× (CPU).",
            "",
        ]
    tiers = result.get("tiers")
    if tiers:
        t, strict = tiers["tiered"], tiers["every_event_invalidates"]
        lines += [
            f"**Tiered inference** on the time-slice replay ({tiers['events']:,} events in time order, the "
            "user's intent asked after each): model runs "
            f"{t['model_runs']:,} with tiers (cache, popularity for histories with nothing to infer from, "
            f"model) vs {strict['model_runs']:,} when every event invalidates: "
            f"**{tiers['model_work_saved']:.1%} of model runs saved** (answers by source: "
            + ", ".join(f"{k} {v:,}" for k, v in t["answers"].items())
            + f"; {t['seconds']:.0f} s vs {strict['seconds']:.0f} s for the pass).",
            "",
        ]
    q = result.get("int8_quality")
    if q:
        names = ("HR@10", "NDCG@10", "MRR@10")
        lines += [
            "**int8 quality** (`python bench/runtime_quality.py bench/out/serve/models/taobao "
            "bench/out/serve/data/taobao`, run inside this command: the sample's test split, "
            f"{q['targets']:,} targets, full catalogue):",
            "",
            "| | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for name in ("torch", "onnx_fp32", "onnx_int8", "int8_minus_fp32"):
            lines.append(f"| {name} | " + " | ".join(f"{q[name][n]:.4f}" for n in names) + " |")
        lines += [
            "",
            f"Same rank for {q['rank_agreement_int8_fp32']:.1%} of targets (int8 vs fp32: a briefly trained "
            "model scores many items almost equally, and int8 reorders near-ties); graphs "
            + ", ".join(f"{k} {v} MB" for k, v in q["sizes_mb"].items())
            + ".",
            "",
        ]
    lines += ["**Targets** (issue: 2 cores):", ""]
    t = result["targets"]
    if "p99_under_15ms_at_300rps" in t:
        x = t["p99_under_15ms_at_300rps"]
        lines.append(
            f"- p99 < 15 ms at 300 req/s for intent + top-10 + explanation: best p99 {x['p99_ms']:.1f} ms "
            f"({x.get('precision', 'fp32')}, {x.get('workers', 1)} worker(s), model on "
            f"{x.get('model_on', 'thread')}; its runs: "
            f"{', '.join(f'{v:.1f}' for v in x.get('p99_each_run_ms', [x['p99_ms']]))} ms) at "
            f"{x['throughput_rps']:.0f} req/s achieved — "
            f"**{'met' if x['met'] else 'NOT met'}** on this run."
        )
    if "onnx_3x_eager" in t:
        x = t["onnx_3x_eager"]
        lines.append(
            f"- ONNX ≥ 3× eager PyTorch per request: {x['eager_over_onnx_fp32_cpu_median']}× (CPU), "
            f"{x['eager_over_onnx_fp32_wall_median']}× (wall) — **{'met' if x['met'] else 'NOT met'}** "
            "(judged on CPU time, the steadier figure on a shared machine)."
        )
    lines.append("")
    _replace_section(ROOT / "BENCHMARKS.md", "serve", "\n".join(lines))


def _replace_section(path: Path, name: str, body: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8")
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
