"""What listeners need, built once by the composition root."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.delivery.outbox import Claimed, OutboxWorker
from orders_core.db import Database

log = logging.getLogger(__name__)


@dataclass
class Deps:
    """The database, the clock, and the worker to wake after a commit."""

    db: Database
    clock: Clock
    worker: OutboxWorker | None = None

    def committed(self) -> None:
        """A change with notifications was committed: the worker delivers them now."""
        if self.worker is not None:
            self.worker.wake()

    def claim_queued(self, session: Session) -> list[Claimed]:
        """Inside a transaction: lease what it queued, to deliver from this thread once it
        commits (`deliver`), with no claiming transaction of its own."""
        return [] if self.worker is None else self.worker.claim_queued(session)

    def deliver(self, claimed: list[Claimed]) -> None:
        """After the commit: deliver what `claim_queued` leased; the worker gets the rest."""
        if self.worker is None:
            return
        if claimed:
            try:
                self.worker.deliver_claimed(claimed)
            except Exception:  # their lease lapses and the worker retries: never lose them
                log.exception("delivering right after the commit failed; the worker will retry")
        self.worker.wake()
