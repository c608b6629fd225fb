"""Bolt's listener thread pool, counting the work still running after each ack."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ListenerExecutor(ThreadPoolExecutor):
    """A thread pool that knows how many listeners are still at work (for shutdown and tests)."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="listener")
        self._busy = 0
        self._lock = threading.Condition()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run `fn` on the pool, counted until it finishes."""
        with self._lock:
            self._busy += 1
        # Carry the request's log context (workspace, user, request id) into the listener thread.
        context = contextvars.copy_context()
        future: Future[T] = super().submit(context.run, fn, *args, **kwargs)  # type: ignore[arg-type]
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._lock:
            self._busy -= 1
            self._lock.notify_all()

    @property
    def busy(self) -> int:
        """Listeners still running."""
        return self._busy

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no listener runs; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True
