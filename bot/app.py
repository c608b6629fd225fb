"""The composition root: every entry point (run, worker, scheduler, the console, tests,
benchmarks) builds the bot here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk.errors import SlackApiError

from bot import listeners
from bot.clock import Clock, SystemClock
from bot.delivery.clients import SingleTokenClients, SlackClients, make_client
from bot.delivery.deliveries import Deliveries, tell_about_failure
from bot.delivery.outbox import Outbox, OutboxWorker
from bot.deps import Deps
from bot.logs import bind
from bot.oauth import InstallationClients, installation_store, oauth_settings, register_uninstall
from bot.scheduling.reminders import Reminders, ReminderScheduler
from bot.settings import Mode, Settings
from bot.ui.orders import render_error
from orders_core.db import Database

log = logging.getLogger(__name__)

SLACK_REFUSED = render_error(
    "Slack did not show the form in time. Nothing was changed: please try again."
)
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
    reminders: Reminders
    scheduler: ReminderScheduler | None = None

    def start(self, *, worker: bool = True, scheduler: bool = False) -> None:
        """Start delivering the outbox, and the reminder scheduler when asked."""
        if worker:
            self.worker.start()
        if scheduler and self.scheduler is None:
            self.scheduler = ReminderScheduler(
                self.reminders, grace_seconds=self.settings.reminder_grace_seconds
            )
            self.scheduler.start()

    def ready(self) -> tuple[bool, str]:
        """Ready when the database takes a write now (answered within about a second) and is
        migrated; else why not."""
        return ready_probe(self.db)

    def settle(
        self,
        timeout: float = 10.0,
        *,
        fast_forward: Callable[[timedelta], object] | None = None,
        horizon: timedelta = timedelta(seconds=5),
    ) -> None:
        """Deliver every notification due within `horizon` (tests, the console).

        Items spaced out for Slack's rate limits fall due a little later: wait for them, or, with
        `fast_forward` (tests, whose clock can move), move the clock instead of sleeping.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.worker.drain(timeout)
            due = self.outbox.next_due(horizon)
            if due is None:
                return
            wait = max(timedelta(0), due - self.clock.now())
            if fast_forward is not None:
                fast_forward(wait + timedelta(milliseconds=1))
            else:
                time.sleep(wait.total_seconds())

    def stop(self) -> None:
        """Stop the scheduler (a running slot finishes), finish the outbox items in hand,
        release the database."""
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        self.worker.stop()
        self.db.dispose()


def ready_probe(db: Database) -> tuple[bool, str]:
    """Ready when the database takes a write now and is migrated; else why not."""
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


class _QuietTokenWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when given a client: we give it one on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop just that warning."""
        return "`token` will be unused" not in record.getMessage()


def build_runtime(
    settings: Settings,
    *,
    mode: Mode | None = Mode.HTTP,
    clock: Clock | None = None,
    db: Database | None = None,
    migrate: bool = False,
    token_verification: bool = True,
) -> Runtime:
    """Wire the database, the clock, Slack clients, the outbox and the Bolt app together."""
    settings.require_slack(mode)  # None: only the bot token (the scheduler, the worker)
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
    outbox = Outbox(db, clock, rate_limits=settings.slack_rate_limits)
    threads = settings.outbox_threads
    # Two items per thread a batch: a batch ends when its slowest call does, so a second
    # round keeps the threads busy meanwhile.
    deliveries = Deliveries(db, clock, clients)
    worker = OutboxWorker(
        outbox,
        deliveries,
        threads=threads,
        batch=max(20, 2 * threads),
        slack_answers=deliveries.slack_answers,
    )
    deps = Deps(db, clock, worker)
    logging.getLogger("slack_bolt.App").addFilter(_QuietTokenWarning())
    bolt = App(
        client=make_client(settings.slack_api_url, token, timeout=settings.slack_timeout_seconds),
        signing_secret=settings.slack_signing_secret.get_secret_value()
        if settings.slack_signing_secret
        else None,
        # A listener does its work in the request's thread and acks when it is done: a change
        # is committed (with the Slack calls it owes queued) before Slack is told it was taken.
        process_before_response=True,
        token_verification_enabled=token_verification and not settings.oauth,
        oauth_settings=oauth_settings(settings, db, store) if store is not None else None,
    )
    register(bolt, deps)
    register_uninstall(bolt, db, store)
    return Runtime(settings, db, clock, clients, bolt, outbox, worker, deps, Reminders(deps))


def register(bolt: App, deps: Deps) -> None:
    """Every listener, and an error handler that still answers the user."""
    bolt.middleware(listeners.drop_unstorable_text)  # before any listener reads the payload

    @bolt.middleware
    def bind_log_context(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        bind(team_id=context.team_id, user_id=context.user_id)
        context["deps"] = deps  # what every listener works with (common.deps_of)
        return next()

    listeners.register(bolt, deps)

    @bolt.error
    def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        if isinstance(error, SlackApiError) and response is not None:
            # Slack refused a modal the listener opened or updated (a lapsed trigger, a modal
            # closed meanwhile): the request was taken and nothing changed; say so, and answer
            # 200 (a 500 would only make Slack show the person an error icon as well).
            log.warning("Slack refused a call from a listener: %s", error.response.get("error"))
            tell_about_failure(body.get("response_url"), SLACK_REFUSED)
            response.status = 200
            return response
        log.error("unhandled error in a listener", exc_info=error)
        tell_about_failure(body.get("response_url"), OOPS)
        return response
