"""The time the bot believes it is: the system's, or one that tests and the console can move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the time."""

    def now(self) -> datetime:
        """Now, timezone-aware UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Now, timezone-aware UTC."""
        return datetime.now(UTC)


class MovableClock:
    """The real time plus an offset that only grows (the console's `wait 25h`), or a fixed time."""

    def __init__(self, start: datetime | None = None) -> None:
        self._fixed = start
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Now, as moved."""
        with self._lock:
            base = self._fixed if self._fixed is not None else datetime.now(UTC)
            return base + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta`; returns the new now."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()

    def advance_to(self, when: datetime) -> datetime:
        """Move forward to `when` (not back: already past it, it stays); returns the new now."""
        with self._lock:
            base = self._fixed if self._fixed is not None else datetime.now(UTC)
            self._offset = max(self._offset, when - base)
            return base + self._offset

    def set(self, when: datetime) -> None:
        """Stop the clock at `when` (tests)."""
        with self._lock:
            self._fixed = when
            self._offset = timedelta(0)
