"""What listeners need, built once by the composition root."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.outbox import OutboxWorker
from orders_core.db import Database

log = logging.getLogger(__name__)


@dataclass
class Deps:
    """The database, the clock, and the worker to wake after a commit."""

    db: Database
    clock: Clock
    worker: OutboxWorker | None = None

    def committed(self, item_ids: list[int] | None = None) -> None:
        """A change with notifications was committed: deliver them now.

        With the items' ids, this thread (a listener's, after its ack) delivers them itself, so
        clicks are answered in parallel; anything left, or failing, is the worker's.
        """
        if self.worker is None:
            return
        if item_ids:
            try:
                self.worker.deliver_now(item_ids)
            except Exception:  # the background worker will deliver them: never lose the answer
                log.exception("delivering right after the commit failed; the worker will retry")
        self.worker.wake()
