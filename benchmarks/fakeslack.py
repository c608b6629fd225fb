"""LocalSlack (the local Slack Web API) in a process of its own, driven through a pipe.

The servers under test and the load generator each have their own process too: on two cores the
fake Slack must not share a GIL with either side of the measurement. Beside the Web API it
answers one question over HTTP, for the load generator's clients that wait, as a person does,
until the card they clicked is redrawn (`GET /redrawn?channel=C&ts=T&since=N`).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks.procstat import rss_mb

TOKEN = "xoxb-benchmark-token"


class FakeSlack:
    """A LocalSlack child process; each method is one request over the pipe."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), name="fake-slack", daemon=True)
        self._lock = threading.Lock()
        self.base_url = ""
        self.redrawn_url = ""
        """GET it with ?channel=C&ts=T&since=N: when (epoch s) message (C, T) was first
        chat.update-d by the call numbered N (`mark()`) or later; it answers once that happened."""
        self.pid = 0

    def start(self) -> FakeSlack:
        """Start the process and wait until it serves."""
        self._process.start()
        self.pid = self._process.pid or 0
        self.base_url, self.redrawn_url = self._conn.recv()
        return self

    def stop(self) -> None:
        """Stop serving and end the process."""
        if self._process.is_alive():
            with contextlib.suppress(EOFError, OSError):
                self._call("stop")
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        self._conn.close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _call(self, command: str, *args: Any) -> Any:
        with self._lock:
            self._conn.send((command, args))
            ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"fake Slack failed on {command}: {value}")
        return value

    def seed(self, channel: str, count: int) -> list[str]:
        """Post `count` messages in a channel through the Web API; their ts, in order."""
        return list(self._call("seed", channel, count))

    def response_urls(self, count: int, *, channel: str, user: str, team: str) -> list[str]:
        """Fresh response_urls, as Slack sends one with each command."""
        return list(self._call("response_urls", count, channel, user, team))

    def mark(self) -> int:
        """How many calls were recorded so far (count from here later)."""
        return int(self._call("mark"))

    def update_times(self, since: int, targets: Sequence[tuple[str, str]]) -> list[float | None]:
        """For each (channel, ts), when (epoch s) its first chat.update since `since` arrived,
        or None when none did."""
        return list(self._call("update_times", since, list(targets)))

    def response_time(self, url: str, timeout: float = 30.0) -> tuple[float, dict[str, Any]]:
        """Wait for the first POST to a response_url: its arrival time (epoch s) and its body."""
        when, body = self._call("response_time", url, timeout)
        return float(when), body

    def posts_by_channel(self, since: int) -> dict[str, int]:
        """chat.postMessage calls that succeeded since `since`, by channel."""
        return dict(self._call("posts_by_channel", since))

    def calls_since(self, since: int) -> dict[str, int]:
        """Calls recorded since `since`, by method."""
        return dict(self._call("calls_since", since))

    def rate_limited_since(self, since: int) -> dict[str, int]:
        """Calls answered 429 (over Slack's tiers) since `since`, by method."""
        return dict(self._call("rate_limited_since", since))

    def enforce_tiers(self) -> None:
        """From now on, answer 429 past Slack's rate limits, as LocalSlack does by default (its
        windows start empty: nothing was counted while there were none)."""
        self._call("enforce_tiers")

    def rss_mb(self) -> float:
        """The fake Slack's resident memory."""
        return float(self._call("rss"))

    def delay(self, method: str, seconds: float) -> None:
        """Answer every call of `method` `seconds` later, as a distant Slack does, until
        `clear_faults()`."""
        self._call("delay", method, seconds)

    def clear_faults(self) -> None:
        """Answer at once again."""
        self._call("clear_faults")


def _serve(conn: Connection) -> None:
    """The child: LocalSlack, and a loop answering the parent's requests."""
    import socketserver

    from bot.console.localslack import LocalSlack

    # socketserver listens with a backlog of 5: a burst of new connections (WebClient opens
    # one per call) overflows it, and the dropped SYNs are retried a whole second later.
    socketserver.TCPServer.request_queue_size = 1024
    slack = LocalSlack()
    # No rate limits here (where LocalSlack enforces Slack's tiers): the click suite sends
    # thousands of clicks a minute in one workspace, whose chat.update calls Slack's tier would
    # cap at 50 a minute, and the benchmarks measure what the bot costs, not Slack's pacing
    # (which the tests check). The outbox still paces posts to a channel itself. The tiers
    # suite turns them on (`enforce_tiers`) once its cards are in place.
    slack.tiers = None
    slack.start()
    redraws = Redraws(slack)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _redrawn_handler(redraws))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="redrawn", daemon=True).start()
    conn.send((slack.base_url, f"http://127.0.0.1:{server.server_address[1]}/redrawn"))
    handlers = _Handlers(slack)
    while True:
        try:
            command, args = conn.recv()
        except EOFError:
            break
        if command == "stop":
            conn.send((True, None))
            break
        try:
            conn.send((True, getattr(handlers, command)(*args)))
        except Exception as exc:  # report it to the parent, keep serving
            conn.send((False, f"{exc.__class__.__name__}: {exc}"))
    server.shutdown()
    redraws.stop()
    slack.stop()


class Redraws:
    """When each message was chat.update-d, for the clients waiting to see their card redrawn.

    While anyone waits, one thread reads the calls recorded since its last look every 2 ms (a
    waiting client's next click leaves at most that much later; the time reported is the
    call's own arrival)."""

    def __init__(self, slack: Any) -> None:
        self.slack = slack
        self.updates: dict[tuple[str, str], list[tuple[int, float]]] = {}
        self.seen = 0
        self.waiting = 0
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="redraws", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(0.002):
            with self.changed:
                while not self.waiting and not self.stopping.is_set():
                    self.changed.wait()
            calls = self.slack.calls()
            if len(calls) == self.seen:
                continue
            with self.changed:
                for index in range(self.seen, len(calls)):
                    call = calls[index]
                    if call.method == "chat.update" and call.ok:
                        key = (str(call.args.get("channel")), str(call.args.get("ts")))
                        self.updates.setdefault(key, []).append((index, call.time))
                self.seen = len(calls)
                self.changed.notify_all()

    def wait(self, channel: str, ts: str, since: int, timeout: float) -> float | None:
        """When (channel, ts) was first updated by call `since` or later; None after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            self.waiting += 1
            self.changed.notify_all()
            try:
                while True:
                    for index, when in self.updates.get((channel, ts), ()):
                        if index >= since:
                            return when
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.stopping.is_set():
                        return None
                    self.changed.wait(remaining)
            finally:
                self.waiting -= 1

    def stop(self) -> None:
        """Stop watching; waiters are answered None."""
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()
        self.thread.join(5)


def _redrawn_handler(redraws: Redraws) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection per waiting client
        disable_nagle_algorithm = True  # else a kept-alive answer waits on a delayed ACK: 40 ms

        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            when = redraws.wait(
                query["channel"], query["ts"], int(query["since"]), float(query.get("timeout", 30))
            )
            body = json.dumps({"redrawn_at": when}).encode()
            self.send_response(200 if when is not None else 504)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per click would only cost time

    return Handler


class _Handlers:
    """What the parent can ask the child."""

    def __init__(self, slack: Any) -> None:
        self.slack = slack

    def seed(self, channel: str, count: int) -> list[str]:
        url = self.slack.base_url + "chat.postMessage"

        def post(i: int) -> str:
            body = json.dumps({"channel": channel, "text": f"Order card {i}"}).encode()
            request = urllib.request.Request(
                url,
                data=body,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                return str(json.loads(answer.read())["ts"])

        with ThreadPoolExecutor(4) as pool:
            stamps = list(pool.map(post, range(count)))
        # Threads may finish out of order; ts grow with arrival, so sorting restores post order.
        return sorted(stamps, key=lambda ts: tuple(int(x) for x in ts.split(".")))

    def response_urls(self, count: int, channel: str, user: str, team: str) -> list[str]:
        return [
            self.slack.new_response_url(channel=channel, user=user, team_id=team)
            for _ in range(count)
        ]

    def mark(self) -> int:
        return len(self.slack.calls())

    def update_times(self, since: int, targets: list[tuple[str, str]]) -> list[float | None]:
        wanted = {tuple(t) for t in targets}
        first: dict[tuple[str, str], float] = {}
        for call in self.slack.calls()[since:]:
            if call.method != "chat.update" or not call.ok:
                continue
            key = (str(call.args.get("channel")), str(call.args.get("ts")))
            if key in wanted and key not in first:
                first[key] = call.time
        return [first.get((str(c), str(ts))) for c, ts in targets]

    def response_time(self, url: str, timeout: float) -> tuple[float, dict[str, Any]]:
        url_id = url.rstrip("/").rsplit("/", 1)[-1]

        def arrived() -> Any:
            for call in reversed(self.slack.calls("response_url")):
                if call.response_url_id == url_id:
                    return call
            return None

        call = self.slack.wait_for(arrived, timeout=timeout, description=f"a POST to {url}")
        return call.time, dict(call.args)

    def posts_by_channel(self, since: int) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for call in self.slack.calls()[since:]:
            if call.method == "chat.postMessage" and call.ok:
                counts[str(call.args.get("channel"))] += 1
        return dict(counts)

    def calls_since(self, since: int) -> dict[str, int]:
        return dict(Counter(call.method for call in self.slack.calls()[since:]))

    def rate_limited_since(self, since: int) -> dict[str, int]:
        return dict(Counter(c.method for c in self.slack.calls()[since:] if c.status == 429))

    def enforce_tiers(self) -> None:
        from bot.console.localslack import SLACK_TIERS

        self.slack.tiers = SLACK_TIERS

    def rss(self) -> float:
        return rss_mb()

    def delay(self, method: str, seconds: float) -> None:
        self.slack.delay(method, seconds, times=None)

    def clear_faults(self) -> None:
        self.slack.clear_faults()
