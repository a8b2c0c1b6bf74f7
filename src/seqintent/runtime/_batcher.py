"""Micro-batching: requests that arrive close together share one model call.

Callers (request threads) :meth:`MicroBatcher.submit` one item and block until its answer is
ready. One worker thread takes the first waiting item, gathers more until ``max_batch`` or until
``max_wait_s`` after the first one arrived, runs them together and hands each caller its answer.
With ``max_wait_s = 0`` it never waits, yet still batches whatever queued while the previous
batch ran: under load batches grow by themselves, at low load nobody waits.

Callers on an event loop (:meth:`MicroBatcher.submit_async`) can instead have their batches run on
the loop itself (``on_loop=True``): no hand-off to the worker thread and back (two thread wake-ups
per request), at the price of the loop not reading other requests while the model runs. That is
the better trade where every core has a server process of its own (measured in BENCHMARKS.md,
serving notes); with one process the worker thread lets parsing overlap the model.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    """One submitted item; its answer goes to a waiting thread, or to an asyncio future."""

    __slots__ = ("done", "error", "future", "item", "result", "since")

    def __init__(self, item: T, future: asyncio.Future[R] | None = None) -> None:
        self.item = item
        self.since = time.perf_counter()
        self.done = threading.Event()
        self.future = future
        self.result: R | None = None
        self.error: BaseException | None = None

    def deliver(self) -> None:
        future = self.future
        if future is None:
            self.done.set()
        else:
            future.get_loop().call_soon_threadsafe(_settle, future, self.result, self.error)


def _settle(future: asyncio.Future, result: object, error: BaseException | None) -> None:
    if not future.done():  # the caller may have been cancelled (client gone)
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


_STOP = object()


class MicroBatcher(Generic[T, R]):
    """Run ``run(items) -> answers`` over batches of concurrently submitted items.

    Parameters
    ----------
    run:
        Answers a list of items, in order (same length). An exception is raised to every caller
        of that batch.
    max_batch:
        Most items per call.
    max_wait_s:
        How long the first item of a batch may wait for company.
    on_batch:
        Called after each batch with its size and its run time in seconds (for metrics).
    on_loop:
        Run the batches of :meth:`submit_async` callers on their event loop instead of the worker
        thread (which still serves :meth:`submit`).

    Examples
    --------
    >>> b = MicroBatcher(lambda xs: [x * 2 for x in xs], max_batch=8, max_wait_s=0.0)
    >>> b.submit(21)
    42
    >>> b.close()
    """

    def __init__(
        self,
        run: Callable[[list[T]], list[R]],
        *,
        max_batch: int = 32,
        max_wait_s: float = 0.001,
        on_batch: Callable[[int, float], None] | None = None,
        on_loop: bool = False,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1 (got {max_batch})")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be non-negative (got {max_wait_s})")
        self.run = run
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self.on_loop = on_loop
        # per event loop: the items waiting for the loop's next batch, and whether a run is scheduled
        self._loop_waiting: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[R]]]] = {}
        self._loop_scheduled: dict[asyncio.AbstractEventLoop, asyncio.Handle | asyncio.TimerHandle] = {}
        self._queue: queue.SimpleQueue[_Slot[T, R] | object] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="seqintent-batcher", daemon=True)
        self._thread.start()

    def submit(self, item: T) -> R:
        """Answer one item (blocks until its batch has run)."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        slot: _Slot[T, R] = _Slot(item)
        self._queue.put(slot)
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    async def submit_async(self, item: T) -> R:
        """Answer one item without blocking the event loop (the batch runs in the worker thread)."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        if not self.on_loop:
            self._queue.put(_Slot(item, future))
            return await future
        waiting = self._loop_waiting.setdefault(loop, [])
        waiting.append((item, future))
        scheduled = self._loop_scheduled.get(loop)
        if len(waiting) >= self.max_batch:
            if scheduled is not None:
                scheduled.cancel()
            self._loop_scheduled[loop] = loop.call_soon(self._run_on_loop, loop)
        elif scheduled is None:
            # call_soon runs after the callbacks already ready: requests read in the same pass join
            self._loop_scheduled[loop] = (
                loop.call_later(self.max_wait_s, self._run_on_loop, loop)
                if self.max_wait_s > 0
                else loop.call_soon(self._run_on_loop, loop)
            )
        return await future

    def _run_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the loop's waiting items (at most ``max_batch``; the rest in the next callback)."""
        waiting = self._loop_waiting.pop(loop, [])
        batch, rest = waiting[: self.max_batch], waiting[self.max_batch :]
        if rest:
            self._loop_waiting[loop] = rest
            self._loop_scheduled[loop] = loop.call_soon(self._run_on_loop, loop)
        else:
            self._loop_scheduled.pop(loop, None)  # nothing of a finished loop stays referenced
        batch = [(item, future) for item, future in batch if not future.done()]  # callers gone: skipped
        if not batch:
            return
        start = time.perf_counter()
        try:
            answers = self.run([item for item, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"batch function answered {len(answers)} of {len(batch)} items")
        except BaseException as exc:  # every caller of the batch gets the error
            for _, future in batch:
                _settle(future, None, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for (_, future), answer in zip(batch, answers, strict=True):
                _settle(future, answer, None)
        if self.on_batch is not None:
            self.on_batch(len(batch), time.perf_counter() - start)

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Slot[T, R]] = [first]  # type: ignore[list-item]
            deadline = batch[0].since + self.max_wait_s
            while len(batch) < self.max_batch:
                remaining = deadline - time.perf_counter()
                try:
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)  # type: ignore[arg-type]
            self._run(batch)

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        start = time.perf_counter()
        try:
            answers = self.run([s.item for s in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"batch function answered {len(answers)} of {len(batch)} items")
            for slot, answer in zip(batch, answers, strict=True):
                slot.result = answer
        except BaseException as exc:  # every caller of the batch gets the error
            for slot in batch:
                slot.error = exc
        finally:
            for slot in batch:
                slot.deliver()
        if self.on_batch is not None:
            self.on_batch(len(batch), time.perf_counter() - start)

    def close(self) -> None:
        """Finish the queued items and stop the worker (batches scheduled on a loop still run there)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
