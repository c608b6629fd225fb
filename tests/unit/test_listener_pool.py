"""The listener pool that runs the work behind each ack: everything handed to it runs once, in
the caller's log context, and it knows when it is idle."""

from __future__ import annotations

import contextvars
import os
import sys
import threading

import pytest

from bot.executor import ListenerExecutor

REQUEST = contextvars.ContextVar[str]("request", default="none")


@pytest.fixture
def pool() -> ListenerExecutor:
    return ListenerExecutor(4)


def test_each_piece_of_work_runs_once_with_its_callers_context(pool: ListenerExecutor) -> None:
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            seen.append((n, REQUEST.get()))
        return n * 2

    futures = []
    for n in range(200):
        token = REQUEST.set(f"req-{n}")
        futures.append(pool.submit(work, n))
        REQUEST.reset(token)

    assert pool.wait_idle(10)
    assert sorted(seen) == [(n, f"req-{n}") for n in range(200)]
    assert [f.result(1) for f in futures] == [n * 2 for n in range(200)]
    assert pool.busy == 0
    pool.shutdown()


def test_busy_counts_work_running_and_waiting_and_wait_idle_gives_up(
    pool: ListenerExecutor,
) -> None:
    release = threading.Event()
    for _ in range(6):  # 4 run and block, 2 wait for a thread
        pool.submit(release.wait, 10)

    assert pool.busy == 6
    assert pool.wait_idle(0.2) is False

    release.set()
    assert pool.wait_idle(10) is True
    assert pool.busy == 0
    pool.shutdown()


def test_a_failure_lands_on_its_future_and_the_thread_keeps_working(
    pool: ListenerExecutor,
) -> None:
    def boom() -> None:
        raise ValueError("bad click")

    failed = pool.submit(boom)
    later = [pool.submit(lambda n=n: n) for n in range(8)]

    assert isinstance(failed.exception(5), ValueError)
    assert [f.result(5) for f in later] == list(range(8))
    pool.shutdown()


def test_shutdown_finishes_queued_work_then_refuses_more(pool: ListenerExecutor) -> None:
    gate = threading.Event()
    done: list[int] = []
    for n in range(10):
        pool.submit(lambda n=n: (gate.wait(5), done.append(n)))
    gate.set()

    pool.shutdown(wait=True)

    assert sorted(done) == list(range(10))
    assert pool.busy == 0
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(print)


def test_shutdown_with_cancel_futures_drops_what_has_not_started() -> None:
    pool = ListenerExecutor(1)
    started, release = threading.Event(), threading.Event()
    running = pool.submit(lambda: (started.set(), release.wait(10))[1])
    waiting = [pool.submit(lambda: None) for _ in range(3)]
    assert started.wait(5)

    pool.shutdown(wait=False, cancel_futures=True)
    release.set()
    pool.shutdown()

    assert running.result(1) is True
    assert all(f.cancelled() for f in waiting)
    assert pool.busy == 0


@pytest.mark.skipif(sys.platform != "linux", reason="a thread has a nice value of its own on Linux")
def test_listener_threads_run_at_a_lower_os_priority_than_the_caller() -> None:
    """The threads that ack keep the usual priority; the work behind them yields on a full CPU."""
    pool = ListenerExecutor(2, nice=10)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    theirs = pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    assert theirs.result(5) == min(19, mine + 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    pool.shutdown()


def test_work_that_opens_a_modal_runs_on_its_own_lane_whatever_waits_on_the_other() -> None:
    """Every thread of the pool is busy and more waits: a modal's work still runs at once, on
    the modal lane; `busy` and `wait_idle` count both lanes, and shutdown runs both."""
    pool = ListenerExecutor(2, modal_workers=1)
    release = threading.Event()
    for _ in range(5):  # 2 run and block, 3 wait
        pool.submit(release.wait, 10)
    opened = threading.Event()
    lanes: list[str] = []

    def open_modal() -> None:
        lanes.append(threading.current_thread().name)
        opened.set()

    pool.submit_modal(open_modal)
    assert opened.wait(10)  # while the other lane is still stuck
    assert lanes[0].startswith("listener_modal_")
    assert pool.busy == 5 and pool.wait_idle(0.1) is False
    release.set()
    assert pool.wait_idle(10) and pool.busy == 0
    pool.shutdown()


def test_without_a_modal_lane_modal_work_runs_on_the_pool() -> None:
    pool = ListenerExecutor(2)
    assert pool.submit_modal(lambda: 7).result(10) == 7
    pool.shutdown()
