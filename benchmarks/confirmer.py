"""One Confirm, counted, in a process of its own, on one app's code (the actions suite).

    PYTHONPATH=TREE python benchmarks/confirmer.py DATABASE_URL SLACK_API_URL TOKEN SECRET

Run as a script (as `sweeper.py` is): `load` is the harness's sibling module (standard library
only), `bot` and `orders_core` come from TREE, ours or today's main. It builds that tree's
runtime without starting its outbox worker, says `{"ready": true}`, and reads one line of JSON:
{"warmup": [signed click bodies], "click": body}. The warm-up clicks are dispatched to the Bolt
app and delivered (so the pool, SQLAlchemy's caches and the app's own are warm); it says
`{"warmed": true}` and waits for a line (the parent marks the fake Slack's calls). Then the
counted click: from its dispatch, through the work behind its ack (today's main does that in
its listener threads after the ack), to the last Slack call its deliveries make.

Every statement the process's engines send is counted (SQLAlchemy's `before_cursor_execute`,
as tests/e2e/test_round_trips.py counts), and so are the reads today's main runs on the
driver's cursor, outside SQLAlchemy (`orders_core.db.PreparedRead.rows`). As in that test, the
outbox is delivered by this script (`worker.run_once()`) until it holds nothing pending, and
only the batches that delivered something are counted: an idle poll that finds nothing is not
part of the click. Transaction
control the driver issues itself (psycopg's BEGIN, COMMIT) is not a statement sent; SQLite's
BEGIN IMMEDIATE, which both apps send themselves, is.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from load import sign


class Statements:
    """What the engines sent while counting: one line per statement (thread, SQL)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.counting = False
        self.lock = threading.Lock()

    def record(self, statement: str) -> None:
        """Keep one statement, if counting."""
        if self.counting:
            line = threading.current_thread().name[:14] + " " + " ".join(statement.split())[:160]
            with self.lock:
                self.sent.append(line)

    @contextmanager
    def counted(self) -> Iterator[list[str]]:
        """Count what the block sends; the statements, once it is done."""
        start = len(self.sent)
        self.counting = True
        found: list[str] = []
        try:
            yield found
        finally:
            self.counting = False
            found.extend(self.sent[start:])


def install(statements: Statements) -> None:
    """Count every engine's statements, and the tree's reads on the driver's cursor."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.record(statement)

    event.listen(Engine, "before_cursor_execute", before)
    import orders_core.db

    prepared = getattr(orders_core.db, "PreparedRead", None)  # today's main only
    if prepared is not None:
        rows = prepared.rows

        def counted_rows(self: Any, session: Any, params: dict[str, Any]) -> list[Any]:
            statements.record("(on the driver's cursor) " + self.sql)
            return rows(self, session, params)

        prepared.rows = counted_rows


def dispatch(runtime: Any, secret: str, body: str) -> None:
    """The click as Bolt's HTTP adapter hands it over; wait for the work behind the ack."""
    from slack_bolt.request import BoltRequest

    response = runtime.bolt.dispatch(BoltRequest(body=body, headers=sign(secret.encode(), body)))
    if response.status != 200:
        raise RuntimeError(f"the click was answered {response.status}: {response.body[:500]}")
    listeners = getattr(runtime, "listeners", None)  # today's main: its lazy listeners' pool
    if listeners is not None:
        listeners.wait_idle(30)


def deliver(runtime: Any, statements: Statements | None = None) -> list[str]:
    """Deliver until the outbox holds nothing pending (waiting for the items spaced out,
    coalesced or held for a rate budget), counting the statements of the batches that
    delivered something."""
    from sqlalchemy import text

    sent: list[str] = []
    counter = statements or Statements()  # nothing counted without one
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with counter.counted() as batch:
            worked = runtime.worker.run_once()
        if worked:
            sent += batch
            continue
        with runtime.db.engine.connect() as conn:  # not counted: the harness asking
            pending = conn.scalar(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
        if not pending:
            return sent
        due = runtime.outbox.next_due(timedelta(seconds=120))
        wait = 0.05 if due is None else (due - runtime.clock.now()).total_seconds()
        time.sleep(min(1.0, max(0.01, wait)))
    raise RuntimeError("the outbox still holds items after 120 s")


def main() -> None:
    """Build the runtime, warm up, count one Confirm; report on stdout."""
    url, slack_api_url, token, secret = sys.argv[1:5]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        from pydantic import SecretStr

        import bot.app
        from bot.settings import Settings

        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            slack_bot_token=SecretStr(token),
            slack_signing_secret=SecretStr(secret),
            slack_api_url=slack_api_url,
            scheduler_enabled=False,
        )
        runtime = bot.app.build_runtime(settings, mode=None, migrate=False)
        statements = Statements()
        install(statements)
        print(json.dumps({"ready": True}), flush=True)
        job = json.loads(sys.stdin.readline())
        for body in job["warmup"]:
            dispatch(runtime, secret, body)
            deliver(runtime)
        print(json.dumps({"warmed": True}), flush=True)
        sys.stdin.readline()  # the parent has marked the fake Slack's calls: go
        with statements.counted() as ack:
            dispatch(runtime, secret, job["click"])
        delivery = deliver(runtime, statements)
        report: dict[str, Any] = {
            "ok": True,
            "ack": len(ack),
            "delivery": len(delivery),
            "statements": len(ack) + len(delivery),
            "sent": [*ack, "-- delivery --", *delivery],
        }
    except Exception as exc:  # reported to the parent
        traceback.print_exc()
        report = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
