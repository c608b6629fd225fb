"""What listeners need, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.delivery.outbox import OutboxWorker
from orders_core.db import Database


@dataclass
class Deps:
    """The database, the clock, and the outbox worker to wake after a commit."""

    db: Database
    clock: Clock
    worker: OutboxWorker | None = None

    def committed(self) -> None:
        """A change that queued Slack calls was committed: the worker delivers them now."""
        if self.worker is not None:
            self.worker.wake()
