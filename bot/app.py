"""The composition root: every entry point (run, the console, tests, benchmarks) builds here."""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.clock import Clock, SystemClock
from bot.delivery.clients import SingleTokenClients, SlackClients, make_client
from bot.delivery.deliveries import Deliveries, tell_about_failure
from bot.delivery.outbox import Outbox, OutboxWorker
from bot.deps import Deps
from bot.executor import ListenerExecutor
from bot.handoff import HandoffRunner
from bot.http import SlackWsgiApp
from bot.listeners import (
    LaneRunner,
    actions,
    commands,
    drop_unstorable_text,
    events,
    market,
    reminders,
    views,
)
from bot.logs import bind
from bot.oauth import InstallationClients, installation_store, oauth_settings, register_uninstall
from bot.scheduling.reminders import Reminders, ReminderScheduler
from bot.settings import Mode, Settings
from bot.ui.orders import render_error
from orders_core.db import Database

log = logging.getLogger(__name__)

MODAL_THREADS = 2
"""Listener threads that only open modals (each within 3 s of its click, whatever the backlog)."""

OOPS = render_error(
    "Something went wrong on our side and your request may not have been completed. "
    "Check the order with `/orders view NUMBER` before trying again."
)


@dataclass
class Runtime:
    """Everything a running bot is made of."""

    settings: Settings
    db: Database
    clock: Clock
    clients: SlackClients
    bolt: App
    outbox: Outbox
    worker: OutboxWorker
    deps: Deps
    wsgi: SlackWsgiApp
    listeners: ListenerExecutor
    reminders: Reminders
    scheduler: ReminderScheduler | None = None
    handoff: HandoffRunner | None = None
    """In an acking process (LISTENER_PROCESSES): hands listeners to the listener processes."""
    extras: dict[str, Any] = field(default_factory=dict)

    def start_background(self, *, scheduler: bool = False, outbox: bool = True) -> None:
        """Start delivering notifications (unless `outbox` is False: a process that only acks),
        and the reminder scheduler when asked."""
        # Hand the GIL over every 1 ms rather than 5: a thread back from the database or from
        # Slack (a request thread with an ack to send, a delivery reading rows) waits less
        # behind one busy rendering (measured in benchmarks/).
        sys.setswitchinterval(0.001)
        if outbox:
            self.worker.start()
        if scheduler and self.scheduler is None:
            self.scheduler = ReminderScheduler(
                self.reminders, grace_seconds=self.settings.reminder_grace_seconds
            )
            self.scheduler.start()

    def settle(
        self,
        timeout: float = 10.0,
        *,
        fast_forward: Callable[[timedelta], object] | None = None,
        horizon: timedelta = timedelta(seconds=5),
    ) -> None:
        """Wait for the listeners at work, then deliver every notification due within `horizon`.

        Items spaced out for Slack's rate limits fall due a little later: wait for them, or, with
        `fast_forward` (tests, whose clock can move), move the clock instead of sleeping.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.listeners.wait_idle(timeout)
            self.worker.drain(timeout)
            if self.listeners.busy:
                continue
            due = self.outbox.next_due(horizon)
            if due is None:
                return
            wait = max(timedelta(0), due - self.clock.now())
            if fast_forward is not None:
                fast_forward(wait + timedelta(milliseconds=1))
            else:
                time.sleep(wait.total_seconds())

    def stop(self) -> None:
        """Let listeners finish, finish the outbox item in hand, release the database."""
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.handoff is not None:
            self.handoff.close(20)
        self.listeners.wait_idle(20)
        self.listeners.shutdown(wait=True)
        if self.handoff is not None and self.handoff.ran_here:
            # What ran here queued notifications no listener process may be left to deliver.
            self.worker.drain(10)
        self.worker.stop()
        self.db.dispose()


def freeze_startup_heap() -> None:
    """Hide what a process built at start from the garbage collector, for good.

    The app, its listeners, SQLAlchemy's metadata and compiled statements live as long as the
    process, yet each full collection walked all of them: 140 ms with every thread of the
    process stopped, in the middle of a burst of clicks (measured in benchmarks/). Frozen, a
    full collection walks only what was made since. Call it once the runtime is built, in a
    process's entry point (not in tests, which build many runtimes in one process).
    """
    gc.collect()  # what start left as garbage is collected, not frozen
    gc.freeze()


class _QuietTokenWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when given a client: we give it one on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop just that warning."""
        return "`token` will be unused" not in record.getMessage()


def ready_probe(db: Database) -> tuple[bool, str]:
    """Ready when the database takes a write now (answered within about a second) and is
    migrated; else why not."""
    try:
        revision = db.write_probe()
    except Exception as exc:  # any driver error means "not ready", with its reason
        cause = getattr(exc, "orig", None) or exc  # the driver's words, without the SQL
        why = (str(cause).strip().splitlines() or [cause.__class__.__name__])[0][:200]
        return False, f"database cannot be written: {why}"
    head = db.head_revision()
    if revision != head:
        return False, f"database at {revision}, code needs {head}"
    return True, "ok"


def build_runtime(
    settings: Settings,
    *,
    mode: Mode | None = Mode.HTTP,
    clock: Clock | None = None,
    db: Database | None = None,
    migrate: bool = False,
    token_verification: bool = True,
    verify_requests: bool = True,
) -> Runtime:
    """Wire the database, the clock, Slack clients, the outbox and the Bolt app together.

    `verify_requests=False` is for a listener process only: its requests come from the acking
    processes over a socket pair (bot/handoff.py), not from the network.
    """
    settings.require_slack(mode)  # None: only the bot token (the scheduler, `remind now`)
    db = db or Database(settings.database_url, pool_size=settings.database_pool)
    if migrate:
        db.upgrade()  # a database of the caller's own (the console's demo, benchmarks)
    else:
        db.check_schema()  # before anything is created: `orders-bot db upgrade` migrates
    clock = clock or SystemClock()
    store = None
    clients: SlackClients
    if settings.oauth:
        store = installation_store(settings, db)
        clients = InstallationClients(settings.slack_api_url, store, settings.slack_timeout_seconds)
        token = None
    else:
        assert settings.slack_bot_token is not None
        token = settings.slack_bot_token.get_secret_value()
        clients = SingleTokenClients(settings.slack_api_url, token, settings.slack_timeout_seconds)
    outbox = Outbox(db, clock)
    threads = settings.outbox_threads
    # Two items per thread a batch: a batch ends when its slowest call does, so a second
    # round keeps the threads busy meanwhile.
    worker = OutboxWorker(
        outbox, Deliveries(db, clock, clients), threads=threads, batch=max(20, 2 * threads)
    )
    deps = Deps(db, clock, worker)
    executor = ListenerExecutor(
        settings.listener_threads, nice=settings.listener_nice, modal_workers=MODAL_THREADS
    )
    logging.getLogger("slack_bolt.App").addFilter(_QuietTokenWarning())
    bolt = App(
        client=make_client(settings.slack_api_url, token, timeout=settings.slack_timeout_seconds),
        signing_secret=settings.slack_signing_secret.get_secret_value()
        if settings.slack_signing_secret
        else None,
        # Each listener acks in the request's thread and leaves its work to the listener pool
        # (bot.listeners.after_ack); modal submissions answer in-thread, with their errors.
        process_before_response=True,
        request_verification_enabled=verify_requests,
        token_verification_enabled=token_verification and not settings.oauth,
        listener_executor=executor,
        oauth_settings=oauth_settings(settings, db, store) if store is not None else None,
    )
    runner = bolt.listener_runner
    runner.lazy_listener_runner = LaneRunner(runner.lazy_listener_runner.logger, executor)
    register(bolt, deps)
    register_uninstall(bolt, db, store)
    wsgi = SlackWsgiApp(bolt, ready=lambda: ready_probe(db))
    return Runtime(
        settings, db, clock, clients, bolt, outbox, worker, deps, wsgi, executor, Reminders(deps)
    )


def register(bolt: App, deps: Deps) -> None:
    """Every listener, and an error handler that still answers the user."""
    bolt.middleware(drop_unstorable_text)  # before any listener reads the payload
    commands.register(bolt, deps)
    actions.register(bolt, deps)
    views.register(bolt, deps)
    events.register(bolt, deps)
    market.register(bolt, deps)
    reminders.register(bolt, deps)

    @bolt.middleware
    def bind_log_context(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        bind(team_id=context.team_id, user_id=context.user_id)
        return next()

    @bolt.error
    def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        log.error("unhandled error in a listener", exc_info=error)
        tell_about_failure(body.get("response_url"), OOPS)
        return response
