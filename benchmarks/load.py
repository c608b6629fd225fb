"""The load generator: signed Slack requests over keep-alive HTTP connections, from its own process.

Each client is a thread with one persistent `http.client` connection, sending its next request as
soon as the last one was answered (a closed loop): with N clients at most N requests are in
flight. Requests are signed just before they are sent, as Slack signs them. Given a `Redrawn`,
each client instead waits, as the person who clicked does, until the fake Slack has seen the
clicked card redrawn before it clicks again: N clients are N people clicking.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import math
import multiprocessing
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

FORM = "application/x-www-form-urlencoded"
EVENTS_PATH = "/slack/events"


@dataclass(frozen=True)
class Sent:
    """One request: when it left (epoch s), how long until the answer (s), and the status."""

    index: int
    sent_at: float
    latency: float
    status: int


@dataclass(frozen=True)
class Redrawn:
    """Where to ask when each request's card was redrawn (`FakeSlack.redrawn_url`): a card
    (channel, ts) per body, updated by the fake Slack's call number `since` or later."""

    url: str
    since: int
    cards: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LoadResult:
    """Every request of one load run."""

    sent: tuple[Sent, ...]
    started_at: float
    ended_at: float

    @property
    def errors(self) -> int:
        """Requests not answered 200."""
        return sum(1 for s in self.sent if s.status != 200)

    def latencies(self) -> list[float]:
        """Seconds to the answer (the ack), in the order sent."""
        return [s.latency for s in self.sent]


def sign(secret: bytes, body: str) -> dict[str, str]:
    """The headers Slack adds: a timestamp and v0=HMAC-SHA256(secret, v0:ts:body)."""
    ts = str(int(time.time()))
    digest = hmac.new(secret, f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


class Client:
    """One keep-alive connection to the app, sending signed bodies."""

    def __init__(self, url: str, secret: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.secret = secret.encode()
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: str) -> tuple[int, float]:
        """POST a signed body to /slack/events; (status, seconds to the answer)."""
        status, seconds, _ = self.exchange(body)
        return status, seconds

    def exchange(self, body: str) -> tuple[int, float, bytes]:
        """POST a signed body to /slack/events; (status, seconds to the answer, its body)."""
        data = body.encode()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self.conn.request("POST", EVENTS_PATH, data, sign(self.secret, body))
                answer = self.conn.getresponse()
                content = answer.read()
                return answer.status, time.perf_counter() - started, content
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def wait_redrawn(conn: http.client.HTTPConnection, redrawn: Redrawn, index: int) -> None:
    """Wait until the card of request `index` was redrawn (or the fake Slack gave up on it)."""
    channel, ts = redrawn.cards[index]
    query = urlencode({"channel": channel, "ts": ts, "since": redrawn.since, "timeout": 60})
    conn.request("GET", f"{urlsplit(redrawn.url).path}?{query}")
    conn.getresponse().read()


def run_load(
    url: str,
    secret: str,
    bodies: Sequence[str],
    concurrency: int,
    redrawn: Redrawn | None = None,
) -> LoadResult:
    """Send every body with `concurrency` clients (threads of this process); wait for all."""
    counter = itertools.count()
    results: list[Sent] = []
    lock = threading.Lock()
    ready = threading.Barrier(concurrency + 1)
    failures: list[BaseException] = []

    def client_loop() -> None:
        client = Client(url, secret)
        watch = None
        if redrawn is not None:
            parts = urlsplit(redrawn.url)
            watch = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=90)
        mine: list[Sent] = []
        try:
            ready.wait()
            while (index := next(counter)) < len(bodies):
                sent_at = time.time()
                status, latency = client.post(bodies[index])
                mine.append(Sent(index, sent_at, latency, status))
                if watch is not None and redrawn is not None and status == 200:
                    wait_redrawn(watch, redrawn, index)
        except BaseException as exc:  # reported to the caller below
            failures.append(exc)
        finally:
            client.close()
            if watch is not None:
                watch.close()
            with lock:
                results.extend(mine)

    threads = [
        threading.Thread(target=client_loop, name=f"client-{i}", daemon=True)
        for i in range(concurrency)
    ]
    for t in threads:
        t.start()
    ready.wait()
    started = time.time()
    for t in threads:
        t.join()
    ended = time.time()
    if failures:
        raise RuntimeError(f"{len(failures)} client(s) failed: {failures[0]!r}")
    results.sort(key=lambda s: s.index)
    return LoadResult(tuple(results), started, ended)


class LoadProcess:
    """A process that runs loads on request, so the client never shares a GIL with a server."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), name="load", daemon=True)

    def __enter__(self) -> LoadProcess:
        self._process.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._process.is_alive():
            self._conn.send(None)
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
        self._conn.close()

    def run(
        self,
        url: str,
        secret: str,
        bodies: Sequence[str],
        concurrency: int,
        redrawn: Redrawn | None = None,
    ) -> LoadResult:
        """Send the bodies from the load process; wait for every answer (and, with `redrawn`,
        each client for its card redrawn before its next click)."""
        self._conn.send((url, secret, list(bodies), concurrency, redrawn))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"load generator failed: {value}")
        result: LoadResult = value
        return result


def _serve(conn: Any) -> None:
    while True:
        job = conn.recv()
        if job is None:
            break
        try:
            conn.send((True, run_load(*job)))
        except Exception as exc:  # reported to the parent
            conn.send((False, f"{exc.__class__.__name__}: {exc}"))


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank, 0-100) of some values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]
