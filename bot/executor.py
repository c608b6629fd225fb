"""Bolt's listener pool: the work behind each ack, handed over without taking a lock."""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import Empty, SimpleQueue
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_Work = tuple[Future[Any], contextvars.Context, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class ListenerExecutor(Executor):
    """A fixed set of threads taking listeners from one queue, counting the work not yet done;
    and, with `modal_workers`, a lane of threads of its own for work that opens a modal.

    Every ack hands its listener to this pool (Bolt's lazy listeners), from the request's own
    thread. `ThreadPoolExecutor.submit` takes two locks, its own and one that every pool in the
    process shares; with dozens of threads taking turns on the GIL, a thread holding them waits
    for the GIL while every other ack queues behind it: a third of an ack's time at 32 clients
    on PostgreSQL (py-spy, in benchmarks/). Here a submit only appends, to a `SimpleQueue` and
    to a `deque` that counts the unfinished work: each a single step in C, under the GIL.

    A modal must open within 3 s of its click (Slack's `trigger_id`): behind a backlog of
    other work it would not. `submit_modal` puts it on the modal lane, whose threads take
    nothing else. `busy` and `wait_idle` count both lanes.
    """

    def __init__(self, max_workers: int, *, nice: int = 0, modal_workers: int = 0) -> None:
        self._queue: SimpleQueue[_Work | None] = SimpleQueue()
        self._modal_queue: SimpleQueue[_Work | None] = (
            SimpleQueue() if modal_workers else self._queue
        )
        self._modal_workers = modal_workers
        self._unfinished: deque[None] = deque()
        self._idle = threading.Condition()
        self._closed = False
        self._max_workers = max_workers
        self._nice = nice
        self._threads: list[threading.Thread] = []
        self._lanes: list[SimpleQueue[_Work | None]] = []  # each thread's queue
        self._starting = threading.Lock()

    def _start(self) -> None:
        """Start the threads, on the first submit (a runtime that never serves starts none)."""
        with self._starting:
            if not self._threads and not self._closed:
                lanes = [self._queue] * self._max_workers + [self._modal_queue] * (
                    self._modal_workers
                )
                names = [f"listener_{i}" for i in range(self._max_workers)] + [
                    f"listener_modal_{i}" for i in range(self._modal_workers)
                ]
                threads = [
                    threading.Thread(target=self._work, args=(lane,), name=name, daemon=True)
                    for name, lane in zip(names, lanes, strict=True)
                ]
                for thread in threads:
                    thread.start()
                self._threads, self._lanes = threads, lanes

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run `fn` on the pool, with the caller's log context (workspace, user, request id)."""
        return self._put(self._queue, fn, args, kwargs)

    def submit_modal(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run `fn`, which opens a modal, on the modal lane (the only lane without one)."""
        return self._put(self._modal_queue, fn, args, kwargs)

    def _put(
        self,
        queue: SimpleQueue[_Work | None],
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Future[T]:
        if self._closed:
            raise RuntimeError("the listener pool is shut down")
        if not self._threads:
            self._start()
        future: Future[T] = Future()
        self._unfinished.append(None)
        queue.put((future, contextvars.copy_context(), fn, args, kwargs))
        return future

    def _work(self, queue: SimpleQueue[_Work | None]) -> None:
        if self._nice:
            lower_priority(self._nice)
        while (work := queue.get()) is not None:
            future, context, fn, args, kwargs = work
            del work
            if future.set_running_or_notify_cancel():
                try:
                    result = context.run(fn, *args, **kwargs)
                except BaseException as exc:  # kept on the future, as ThreadPoolExecutor does
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, context, fn, args, kwargs
            self._finished()

    def _finished(self) -> None:
        """One piece of work done or cancelled: wake `wait_idle` when it was the last."""
        self._unfinished.pop()
        if not self._unfinished:
            with self._idle:  # a waiter holds this from its check until it waits: no lost wakeup
                self._idle.notify_all()

    @property
    def busy(self) -> int:
        """Listeners running or waiting for a thread."""
        return len(self._unfinished)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no listener runs or waits; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more work; the threads finish what was queued first, then stop."""
        with self._starting:  # no thread starts after this
            closing, self._closed = not self._closed, True
        if closing:
            if cancel_futures:
                self._cancel_queued()
            for lane in self._lanes:
                lane.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
            self._cancel_queued()  # work that raced the shutdown in after the stop marks

    def _cancel_queued(self) -> None:
        """Cancel the work no thread has taken (and drop spare stop marks)."""
        for queue in {id(q): q for q in (self._queue, self._modal_queue)}.values():
            while True:
                try:
                    work = queue.get_nowait()
                except Empty:
                    break
                if work is not None:
                    work[0].cancel()
                    self._finished()


def lower_priority(by: int) -> None:
    """Lower the calling thread's OS scheduling priority (Linux, where a thread has a nice value
    of its own): on a full CPU, the threads that ack get it first.

    A thread holding the GIL can be made to wait longer for the CPU, and the acking threads of
    its process then wait for it: measured, acks still gained (benchmarks/, PostgreSQL clicks).
    """
    if sys.platform != "linux":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
    except OSError as exc:  # a sandbox that forbids it: run at the usual priority
        log.debug("could not lower a listener thread's priority: %s", exc)
