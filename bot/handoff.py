"""Listener processes: the processes that ack hand the work behind each ack to other processes.

With `LISTENER_PROCESSES`, `orders-bot run --http` forks processes that only run listeners (the
work a click starts after its ack: the database, Slack calls, redraws) and deliver the outbox.
The processes that answer HTTP then only ack: no listener thread competes with them for their
GIL, and the listener processes run at a lower OS priority (`LISTENER_NICE`), so on a full CPU
the acks go first. Measured in benchmarks/ (the click suite, PostgreSQL).

The channel is one Unix `SOCK_SEQPACKET` socket pair made before the fork. Every send is one
whole message and every receive takes one, so any number of acking processes and threads send,
and any number of listener threads receive, with no lock. A message holds what Bolt needs to run
one lazy listener again elsewhere (as Bolt's AWS Lambda adapter does): the raw body, the headers
with `x-slack-bolt-lazy-only` and `x-slack-bolt-lazy-function-name`, and the request id for the
logs. A listener process dispatches it to its own Bolt app, which runs just that function.

- When the socket is full, messages wait in the acking process and one thread sends them.
- A message larger than the socket takes, or one no listener process is left to take, runs on
  the acking process's own listener pool instead: work is never dropped for the channel's sake.
- Shutdown drains: an acking process sends what waits (what the listener processes are too slow
  to take within a timeout runs in the acking process itself), and a listener process stops
  when every acking process has gone (its end of the socket reads end-of-file) and nothing is
  left to take.
- An acking process that commits notifications itself (a modal's submission is answered in the
  request's thread) sends a four-byte *wake* message, so a listener process's outbox worker
  delivers them at once rather than at its next poll.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from slack_bolt import App
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.request import BoltRequest

from bot.delivery.deliveries import tell_about_failure
from bot.delivery.outbox import OutboxWorker
from bot.executor import ListenerExecutor
from bot.http import MAX_BODY, FormSafeBoltRequest
from bot.listeners import opens_modal
from bot.logs import current_request_id, log_context
from bot.ui.orders import render_error

log = logging.getLogger(__name__)

LIMIT = 2 * MAX_BODY
"""The largest message: a request's body (at most MAX_BODY), its headers and query."""
_BUFFER = 4 * 1024 * 1024
"""Socket buffer asked for (the kernel caps it at net.core.wmem_max; larger messages run locally)."""
_HEAD = 4  # bytes giving the length of the JSON part of a message
_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ECONNREFUSED, errno.ENOTCONN)


class Ends(NamedTuple):
    """One side of the channel: the socket for work, and the one for work that opens a modal
    (its own lane, so that a modal opens within its 3 s whatever the backlog of other work)."""

    work: socket.socket
    modals: socket.socket


class Channel:
    """The socket pairs between the acking processes and the listener processes (two lanes).

    Make it before forking; then each process keeps the ends of its role (`sender` or
    `receiver`) and closes the others, so that the end-of-file and broken-pipe signals work.
    """

    def __init__(self) -> None:
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(2)]
        for send, _ in pairs:
            send.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        self._send = Ends(pairs[0][0], pairs[1][0])
        self._receive = Ends(pairs[0][1], pairs[1][1])

    def sender(self) -> Ends:
        """This process acks: the sending ends (the receiving ones are closed here)."""
        for end in self._receive:
            end.close()
        return self._send

    def receiver(self) -> Ends:
        """This process runs listeners: the receiving ends (the sending ones are closed here)."""
        for end in self._send:
            end.close()
        return self._receive


WAKE = bytes(_HEAD)
"""The message that wakes a listener process's outbox worker (a JSON part of length 0)."""


def encode(request: BoltRequest, request_id: str | None) -> bytes:
    """One lazy listener's request as a message: lengths, JSON (headers, query, log), the body."""
    headers = {name: list(values) for name, values in request.headers.items()}
    headers["x-slack-bolt-lazy-only"] = ["1"]
    headers["x-slack-bolt-lazy-function-name"] = [request.lazy_function_name or ""]
    meta = json.dumps({"h": headers, "q": request.query, "r": request_id}).encode()
    return len(meta).to_bytes(_HEAD, "big") + meta + request.raw_body.encode()


def decode(message: bytes | memoryview) -> tuple[FormSafeBoltRequest, str | None]:
    """The request a message holds (Bolt runs only its lazy function), and its request id."""
    size = int.from_bytes(message[:_HEAD], "big")
    meta = json.loads(bytes(message[_HEAD : _HEAD + size]))
    body = bytes(message[_HEAD + size :]).decode()
    return FormSafeBoltRequest(body=body, query=meta["q"], headers=meta["h"]), meta["r"]


class HandoffRunner(LazyListenerRunner):
    """Bolt's lazy listener runner in an acking process: each function goes to the channel,
    on the modal lane when it opens a modal.

    The ack's thread sends without blocking. When the socket is full, the message waits its
    turn in a queue that one thread per lane sends from, in order; whatever the channel cannot
    carry runs on `local`, the process's own runner.
    """

    def __init__(self, ends: Ends, local: LazyListenerRunner) -> None:
        self.logger = log
        self._ends = ends
        self._local = local
        self._waiting = ListenerExecutor(1, modal_workers=1)
        self._room = {end: _room(end) for end in ends}  # each used by its lane's thread only
        self._here = False  # closing, and the listener processes too slow: run what waits here
        self.ran_here = 0
        """Listeners this process ran itself (the channel could not carry them)."""

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        """Hand `function`'s run over to a listener process (or run it here, if none can take it)."""
        message = encode(request, current_request_id())
        if len(message) >= LIMIT:  # more than a listener process reads at once
            self._start_here(function, request)
            return
        modal = opens_modal(function)
        end = self._ends.modals if modal else self._ends.work
        wait = self._waiting.submit_modal if modal else self._waiting.submit
        if self._waiting.busy and not modal:  # others are waiting for room: after them
            wait(self._send, end, message, function, request)
            return
        try:
            end.send(message, socket.MSG_DONTWAIT)
        except BlockingIOError:
            wait(self._send, end, message, function, request)
        except OSError as exc:
            self._run_here(exc, function, request)

    def _send(
        self,
        end: socket.socket,
        message: bytes,
        function: Callable[..., None],
        request: BoltRequest,
    ) -> None:
        while not self._here:
            try:
                end.send(message, socket.MSG_DONTWAIT)
                return
            except BlockingIOError:
                self._room[end].poll(250)  # until there is room (or a look at `_here` again)
            except OSError as exc:
                self._run_here(exc, function, request)
                return
        self._start_here(function, request)

    def wake_outbox(self) -> None:
        """Something with notifications was committed here: a listener process delivers them."""
        with contextlib.suppress(OSError):  # full or gone: its worker's next poll finds them
            self._ends.work.send(WAKE, socket.MSG_DONTWAIT)

    def _run_here(self, exc: OSError, function: Callable[..., None], request: BoltRequest) -> None:
        if exc.errno in _GONE:
            log.error("no listener process is left: running the listener in this process")
        elif exc.errno != errno.EMSGSIZE:
            log.warning("could not hand a listener over (%s): running it in this process", exc)
        self._start_here(function, request)

    def _start_here(self, function: Callable[..., None], request: BoltRequest) -> None:
        self.ran_here += 1
        self._local.start(function, request)

    @property
    def waiting(self) -> int:
        """Messages waiting for room in the socket."""
        return self._waiting.busy

    def close(self, timeout: float = 20.0) -> bool:
        """Send what waits, then close this end; False if the listener processes were too slow
        to take it all within `timeout`: the rest then goes to this process's own pool (which
        the runtime's stop waits for), never dropped.

        Once every acking process has closed its end, the listener processes read end-of-file
        after the last message, and stop.
        """
        done = self._waiting.wait_idle(timeout)
        if not done:
            log.warning(
                "%d listeners still waiting for the listener processes after %.0f s:"
                " running them in this process",
                self._waiting.busy,
                timeout,
            )
            self._here = True
        self._waiting.shutdown(wait=True)
        for end in self._ends:
            end.close()
        return done


def _room(end: socket.socket) -> select.poll:
    room = select.poll()
    room.register(end, select.POLLOUT)
    return room


def hand_off(bolt: App, ends: Ends, outbox: OutboxWorker) -> HandoffRunner:
    """Make `bolt` (in an acking process) hand its lazy listeners to the listener processes,
    and `outbox` (not started here) wake theirs."""
    runner = HandoffRunner(ends, bolt.listener_runner.lazy_listener_runner)
    bolt.listener_runner.lazy_listener_runner = runner
    outbox.remote_wake = runner.wake_outbox
    return runner


def serve(
    bolt: App, ends: Ends, threads: int, wake: Callable[[], None], *, modal_threads: int = 2
) -> None:
    """Run the listeners handed over, on `threads` threads (and `modal_threads` for the modal
    lane), until every acking process has gone and nothing is left to take; `wake` on a wake
    message. `bolt` is this process's app, built without request verification: a message comes
    from the socket pairs, which only our processes hold."""
    takers = [
        threading.Thread(target=_take, args=(bolt, ends.work, wake), name=f"listener_{i}")
        for i in range(threads)
    ] + [
        threading.Thread(target=_take, args=(bolt, ends.modals, wake), name=f"listener_modal_{i}")
        for i in range(modal_threads)
    ]
    for taker in takers:
        taker.start()
    for taker in takers:
        taker.join()


def _take(bolt: App, channel: socket.socket, wake: Callable[[], None]) -> None:
    buffer = bytearray(LIMIT)
    view = memoryview(buffer)
    while size := channel.recv_into(buffer):  # 0: end of file, every acking process has gone
        if size == len(WAKE):
            wake()
            continue
        try:
            request, request_id = decode(view[:size])
        except (ValueError, KeyError, UnicodeDecodeError):
            log.error("a handed-over listener could not be read (%d bytes): dropped", size)
            continue
        with log_context(request_id=request_id):
            _dispatch(bolt, request)


def _dispatch(bolt: App, request: FormSafeBoltRequest) -> None:
    """Run one handed-over listener. Bolt answers 200 with no body once it ran. A failure in a
    listener or a middleware (the database down while authorizing, say) reaches the app's error
    handler, which tells the user through the response_url; a refusal with a text for the user
    (authorization failing at Slack) is the answer the ack could not carry: it goes there too."""
    try:
        response: Any = bolt.dispatch(request)
    except Exception:  # anything else
        log.exception("a handed-over listener failed")
        return
    if response.status == 200 and not response.body:
        return
    log.error(
        "a handed-over listener did not run (%s %s): %s",
        response.status,
        str(response.body)[:200],
        request.lazy_function_name,
    )
    if response.status == 200:
        tell_about_failure(request.body.get("response_url"), render_error(str(response.body)))
