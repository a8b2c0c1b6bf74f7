"""Load generators for bench/serve.py: raw HTTP/1.1 on loopback keep-alive connections, in their own process.

``open_loop`` sends pre-built requests at Poisson arrival times and measures each latency from the moment
the request was due (so a slow server cannot slow the arrivals down and hide its queue: no coordinated
omission). ``replay`` streams events into the service in time order at a fixed pace, asking the intent of
each batch's users after posting the batch. Both return plain dicts (they run in a spawned process).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any


def request_bytes(method: str, path: str, key: str, body: bytes | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _open_loop(
    port: int, requests: list[bytes], rate: float, seconds: float, connections: int, seed: int, timeout: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    rng = random.Random(seed)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    done_at: list[float] = []
    dropped = [0]
    start = loop.time() + 0.05
    # nothing waits past this: a server slower than the rate leaves requests unsent (counted as dropped)
    deadline = start + seconds + timeout

    async def one(i: int, due: float) -> None:
        try:
            reader, writer = await asyncio.wait_for(pool.get(), max(deadline - loop.time(), 0.001))
        except TimeoutError:
            dropped[0] += 1
            return
        try:
            status, body = await asyncio.wait_for(
                _exchange(reader, writer, requests[i % len(requests)]), timeout
            )
            if status == 200 and b'"next_items"' not in body:
                errors.append(f"200 without next_items: {body[:200]!r}")
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(loop.time() - due)
            done_at.append(loop.time())
            pool.put_nowait((reader, writer))
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            writer.close()
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))

    due, tasks, i = start, [], 0
    while due < start + seconds:
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(i, due)))
        i += 1
        due += rng.expovariate(rate)
    await asyncio.gather(*tasks)
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    span = (max(done_at) - start) if done_at else seconds
    return {
        "sent": i,
        "completed": len(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors[:5],
        "n_errors": len(errors),
        "dropped": dropped[0],
        "latencies_s": latencies,
        "throughput_rps": len(latencies) / span,
    }


def open_loop(
    port: int,
    requests: list[bytes],
    rate: float,
    seconds: float,
    connections: int = 64,
    seed: int = 0,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Send ``requests`` (cycled) at Poisson arrivals of ``rate`` per second for ``seconds``.

    ``cpu_s`` in the result is this process's CPU time: on a shared machine, what the client took.
    """
    cpu = time.process_time()
    result = asyncio.run(_open_loop(port, requests, rate, seconds, connections, seed, timeout))
    return result | {"cpu_s": time.process_time() - cpu}


async def _replay(
    port: int, key: str, events: list[dict[str, Any]], events_per_s: float, batch_s: float, ask: bool
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    per_batch = max(1, round(events_per_s * batch_s))
    post_latencies, ask_latencies, sources = [], [], {}
    accepted = 0
    start = loop.time()
    for b, lo in enumerate(range(0, len(events), per_batch)):
        await asyncio.sleep(max(0.0, start + b * batch_s - loop.time()))
        batch = events[lo : lo + per_batch]
        t0 = loop.time()
        body = json.dumps({"events": batch}).encode()
        status, answer = await _exchange(reader, writer, request_bytes("POST", "/v1/events", key, body))
        post_latencies.append(loop.time() - t0)
        if status == 200:
            accepted += json.loads(answer)["accepted"]
        if ask:
            for user in dict.fromkeys(e["user_id"] for e in batch):
                t0 = loop.time()
                status, answer = await _exchange(
                    reader, writer, request_bytes("GET", f"/v1/users/{user}/intent?k=10", key)
                )
                ask_latencies.append(loop.time() - t0)
                source = json.loads(answer).get("source", str(status)) if status == 200 else str(status)
                sources[source] = sources.get(source, 0) + 1
    writer.close()
    return {
        "events": len(events),
        "accepted": accepted,
        "seconds": loop.time() - start,
        "post_latencies_s": post_latencies,
        "ask_latencies_s": ask_latencies,
        "ask_sources": sources,
    }


def replay(
    port: int,
    key: str,
    events: list[dict[str, Any]],
    events_per_s: float,
    batch_s: float = 0.1,
    ask: bool = True,
) -> dict[str, Any]:
    """Post ``events`` (time order) at ``events_per_s``, a batch every ``batch_s``; ask each batch's users."""
    cpu = time.process_time()
    result = asyncio.run(_replay(port, key, events, events_per_s, batch_s, ask))
    return result | {"cpu_s": time.process_time() - cpu}


def percentiles_ms(latencies_s: list[float]) -> dict[str, float]:
    if not latencies_s:
        return {}
    xs = sorted(latencies_s)

    def q(p: float) -> float:
        return round(1000 * xs[min(len(xs) - 1, int(p * len(xs)))], 3)

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": round(1000 * xs[-1], 3), "n": len(xs)}


def now() -> float:
    return time.perf_counter()
