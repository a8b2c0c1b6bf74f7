"""Micro-batching: concurrent requests share a call, each caller gets its own answer or the error."""

from __future__ import annotations

import threading
import time

import pytest

from seqintent.runtime import MicroBatcher


class Gate:
    """A batch function that holds its first call until released, recording batch sizes."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.sizes: list[int] = []
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: list[int]) -> list[int]:
        self.sizes.append(len(items))
        if len(self.sizes) == 1:
            assert self.release.wait(10)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [x * 10 for x in items]


def submit_all(batcher: MicroBatcher, items: list[int]) -> tuple[dict[int, object], list[threading.Thread]]:
    answers: dict[int, object] = {}

    def call(x: int) -> None:
        try:
            answers[x] = batcher.submit(x)
        except ValueError as exc:
            answers[x] = exc

    threads = [threading.Thread(target=call, args=(x,)) for x in items]
    for t in threads:
        t.start()
    return answers, threads


def wait_queued(batcher: MicroBatcher, n: int) -> None:
    deadline = time.monotonic() + 10
    while batcher._queue.qsize() < n:
        assert time.monotonic() < deadline, "requests were not queued"
        time.sleep(0.001)


def test_requests_queued_while_a_batch_runs_share_the_next_call():
    gate = Gate()
    batcher = MicroBatcher(gate, max_batch=32, max_wait_s=0.0)
    first, t0 = submit_all(batcher, [1])
    deadline = time.monotonic() + 10
    while not gate.sizes:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    rest, threads = submit_all(batcher, [2, 3, 4, 5, 6])
    wait_queued(batcher, 5)
    gate.release.set()
    for t in t0 + threads:
        t.join(10)
    assert gate.sizes == [1, 5]
    assert first | rest == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50, 6: 60}
    batcher.close()


def test_batches_never_exceed_max_batch():
    gate = Gate()
    batcher = MicroBatcher(gate, max_batch=2, max_wait_s=0.0)
    _, t0 = submit_all(batcher, [1])
    while not gate.sizes:
        time.sleep(0.001)
    answers, threads = submit_all(batcher, [2, 3, 4, 5, 6])
    wait_queued(batcher, 5)
    gate.release.set()
    for t in t0 + threads:
        t.join(10)
    assert gate.sizes == [1, 2, 2, 1]
    assert answers == {x: x * 10 for x in (2, 3, 4, 5, 6)}
    batcher.close()


def test_the_first_request_waits_for_company_within_the_budget():
    sizes: list[int] = []
    batcher = MicroBatcher(lambda xs: sizes.append(len(xs)) or xs, max_batch=8, max_wait_s=0.5)
    answers, threads = submit_all(batcher, [1, 2, 3])
    for t in threads:
        t.join(10)
    assert sizes == [3]  # all three arrived within half a second of the first
    assert answers == {1: 1, 2: 2, 3: 3}
    start = time.perf_counter()
    assert batcher.submit(7) == 7  # alone: answered once the budget is spent
    assert 0.45 < time.perf_counter() - start < 5
    batcher.close()


def test_an_error_reaches_every_caller_of_its_batch_and_no_other():
    gate = Gate(fail_on=4)
    batcher = MicroBatcher(gate, max_batch=32, max_wait_s=0.0)
    _, t0 = submit_all(batcher, [1])
    while not gate.sizes:
        time.sleep(0.001)
    answers, threads = submit_all(batcher, [3, 4])
    wait_queued(batcher, 2)
    gate.release.set()
    for t in t0 + threads:
        t.join(10)
    assert [str(answers[3]), str(answers[4])] == ["bad item 4", "bad item 4"]
    assert batcher.submit(5) == 50  # the worker lives on
    batcher.close()


def test_on_batch_sees_sizes_and_close_refuses_new_work():
    seen: list[int] = []
    batcher = MicroBatcher(lambda xs: xs, max_wait_s=0.0, on_batch=lambda n, s: seen.append(n))
    assert batcher.submit(1) == 1
    batcher.close()
    assert seen == [1]
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(2)
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        MicroBatcher(lambda xs: xs, max_batch=0)


def test_async_callers_share_batches_with_threads_and_get_their_errors():
    import asyncio

    sizes: list[int] = []

    def run(xs: list[int]) -> list[int]:
        sizes.append(len(xs))
        if 13 in xs:
            raise ValueError("unlucky")
        return [x + 1 for x in xs]

    batcher = MicroBatcher(run, max_batch=16, max_wait_s=0.2)

    async def main() -> list[object]:
        calls = [batcher.submit_async(x) for x in (1, 2, 3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    assert asyncio.run(main()) == [2, 3, 4]
    assert sizes == [3]

    async def unlucky() -> int:
        return await batcher.submit_async(13)

    with pytest.raises(ValueError, match="unlucky"):
        asyncio.run(unlucky())
    batcher.close()


def test_on_loop_async_callers_of_one_pass_share_a_call_on_the_loop_thread():
    import asyncio

    calls: list[tuple[list[int], int]] = []

    def run(xs: list[int]) -> list[int]:
        calls.append((list(xs), threading.get_ident()))
        if 13 in xs:
            raise ValueError("unlucky")
        return [x + 1 for x in xs]

    batcher = MicroBatcher(run, max_batch=2, max_wait_s=0.0, on_loop=True)

    async def main() -> tuple[list[object], int]:
        answers = await asyncio.gather(
            *(batcher.submit_async(x) for x in (1, 2, 3, 13, 5)), return_exceptions=True
        )
        return answers, threading.get_ident()

    answers, loop_thread = asyncio.run(main())
    # the five arrive in one pass of the loop: batches of at most two, in order, all on the loop's thread
    assert [xs for xs, _ in calls] == [[1, 2], [3, 13], [5]]
    assert {thread for _, thread in calls} == {loop_thread}
    assert answers[:2] == [2, 3] and answers[4] == 6
    assert all(isinstance(a, ValueError) for a in answers[2:4])  # the error reaches its batch only
    assert batcher.submit(7) == 8  # blocking callers still have the worker thread
    assert calls[-1][1] != loop_thread
    batcher.close()


def test_on_loop_the_first_caller_waits_for_company_within_the_budget():
    import asyncio

    sizes: list[int] = []
    batcher = MicroBatcher(lambda xs: sizes.append(len(xs)) or xs, max_batch=8, max_wait_s=0.3, on_loop=True)

    async def staggered() -> list[int]:
        async def late(x: int, delay: float) -> int:
            await asyncio.sleep(delay)
            return await batcher.submit_async(x)

        return await asyncio.gather(late(1, 0.0), late(2, 0.05), late(3, 0.1))

    start = time.perf_counter()
    assert asyncio.run(staggered()) == [1, 2, 3]
    assert sizes == [3]  # the later two arrived within the first one's budget
    assert 0.25 < time.perf_counter() - start < 5
    batcher.close()


def test_on_loop_a_caller_gone_before_its_batch_costs_no_model_work():
    import asyncio

    seen: list[list[int]] = []
    batcher = MicroBatcher(lambda xs: seen.append(list(xs)) or xs, max_batch=8, max_wait_s=0.05, on_loop=True)

    async def main() -> int:
        gone = asyncio.ensure_future(batcher.submit_async(1))
        kept = asyncio.ensure_future(batcher.submit_async(2))
        await asyncio.sleep(0)  # both are waiting for the budget to pass
        gone.cancel()  # the client disconnected
        return await kept

    assert asyncio.run(main()) == 2
    assert seen == [[2]]
    assert not batcher._loop_waiting and not batcher._loop_scheduled  # nothing keeps the loop alive
    batcher.close()
