"""The channel between acking processes and listener processes (bot/handoff.py), on real Unix
socket pairs, with Bolt's own lazy listener runner and a Bolt app answered by a local Slack."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App
from slack_bolt.lazy_listener import ThreadLazyListenerRunner
from slack_bolt.util.utils import create_copy

from bot.console.localslack import LocalSlack, Workspace
from bot.executor import ListenerExecutor
from bot.handoff import LIMIT, Channel, Ends, HandoffRunner, decode, encode, serve
from bot.http import FormSafeBoltRequest

TOKEN = "xoxb-handoff-test"


def click(n: int, note: str = "") -> FormSafeBoltRequest:
    """A Confirm click on order `n`, as Bolt copies it for a lazy listener."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1", "team_id": "T1"},
        "api_app_id": "A1",
        "actions": [
            {"action_id": "order:confirm", "value": json.dumps({"n": n}), "type": "button"}
        ],
        "message": {"text": f"Café «SO-{n:06d}» — 100% & paid? {note}"},
    }
    original = FormSafeBoltRequest(
        body=urlencode({"payload": json.dumps(payload)}),
        query="a=1&b=2",
        headers={"content-type": "application/x-www-form-urlencoded", "x-slack-signature": "v0=1"},
    )
    copy = create_copy(original.to_copyable())
    copy.lazy_only = True
    copy.lazy_function_name = "confirm"
    return copy


Pair = Callable[..., tuple[Ends, Ends]]


@pytest.fixture
def pair() -> Iterator[Pair]:
    """Both lanes' socket pairs as the channel makes them (a smaller send buffer when asked):
    (the sending ends, the receiving ends), closed after."""
    made: list[socket.socket] = []

    def make(buffer: int | None = None) -> tuple[Ends, Ends]:
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(2)]
        for send, receive in pairs:
            if buffer:
                send.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
            made.extend((send, receive))
        return Ends(pairs[0][0], pairs[1][0]), Ends(pairs[0][1], pairs[1][1])

    yield make
    for sock in made:
        sock.close()


class Ran:
    """A lazy function that records the order numbers it ran for."""

    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.threads: set[str] = set()
        self.all_in = threading.Event()
        self.expected = 0

    def __call__(self, body: dict[str, Any]) -> None:
        self.numbers.append(json.loads(body["actions"][0]["value"])["n"])
        self.threads.add(threading.current_thread().name)
        if len(self.numbers) >= self.expected:
            self.all_in.set()


def local_runner() -> tuple[ThreadLazyListenerRunner, ListenerExecutor]:
    """Bolt's own runner on our pool: what an acking process falls back to."""
    import logging

    pool = ListenerExecutor(2)
    return ThreadLazyListenerRunner(logging.getLogger("test"), pool), pool


def listener_process_app(slack: LocalSlack) -> App:
    """A Bolt app as a listener process builds it: no request verification (the socket pair
    is ours alone), acks answered elsewhere; its Web API is the local Slack."""
    from slack_sdk import WebClient

    return App(
        client=WebClient(token=TOKEN, base_url=slack.base_url),
        signing_secret="unused",
        process_before_response=True,
        request_verification_enabled=False,
        token_verification_enabled=False,
    )


def test_a_message_carries_the_request_whole() -> None:
    """Body (accents, escapes), headers, query and the lazy function's name survive the trip,
    and the listener process reads it as Bolt's lazy-only request for that function."""
    request = click(7, note="a+b\\n %41")
    request_id = "req123"
    decoded, rid = decode(memoryview(encode(request, request_id)))
    assert rid == request_id
    assert decoded.raw_body == request.raw_body
    assert decoded.body == request.body
    assert decoded.query == request.query
    assert decoded.headers["x-slack-signature"] == ["v0=1"]
    assert decoded.lazy_only is True
    assert decoded.lazy_function_name == "confirm"
    assert decoded.context.team_id == "T1" and decoded.context.user_id == "U1"


def test_the_runner_sends_and_runs_nothing_here(pair: Pair) -> None:
    send, receive = pair()
    local, pool = local_runner()
    ran = Ran()
    runner = HandoffRunner(send, local)
    for n in (1, 2, 3):
        runner.start(ran, click(n))
    received = [decode(receive.work.recv(1 << 20))[0] for _ in range(3)]
    assert [json.loads(r.body["actions"][0]["value"])["n"] for r in received] == [1, 2, 3]
    assert ran.numbers == [] and pool.busy == 0
    runner.close()
    assert receive.work.recv(1 << 20) == b""  # the end of file the listener processes stop on


def test_with_no_listener_process_left_the_work_runs_here(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    send, receive = pair()
    for end in receive:
        end.close()  # every listener process has gone
    local, pool = local_runner()
    ran = Ran()
    ran.expected = 2
    runner = HandoffRunner(send, local)
    runner.start(ran, click(1))
    runner.start(ran, click(2))
    assert ran.all_in.wait(10)
    assert sorted(ran.numbers) == [1, 2]
    assert "no listener process is left" in caplog.text
    runner.close()
    pool.shutdown()


def test_a_message_too_large_for_the_socket_runs_here(pair: Pair) -> None:
    send, receive = pair(buffer=4096)  # the kernel's floor: a few KB
    local, pool = local_runner()
    ran = Ran()
    ran.expected = 1
    runner = HandoffRunner(send, local)
    runner.start(ran, click(9, note="x" * 50_000))
    assert ran.all_in.wait(10) and ran.numbers == [9]
    runner.start(ran, click(10))  # a small one still goes over
    assert json.loads(decode(receive.work.recv(1 << 20))[0].body["actions"][0]["value"])["n"] == 10
    runner.close()
    pool.shutdown()


def test_when_the_socket_is_full_messages_wait_in_order_and_close_sends_them(pair: Pair) -> None:
    send, receive = pair(buffer=16_384)
    local, pool = local_runner()
    ran = Ran()
    runner = HandoffRunner(send, local)
    for n in range(40):  # far more than the socket holds, with nobody reading yet
        runner.start(ran, click(n, note="y" * 1500))
    assert runner.waiting > 0
    received: list[int] = []

    def read() -> None:
        while message := receive.work.recv(1 << 20):
            received.append(json.loads(decode(message)[0].body["actions"][0]["value"])["n"])

    reader = threading.Thread(target=read)
    reader.start()
    assert runner.close(10)  # what waited is sent, then the end of file
    reader.join(10)
    assert received == list(range(40))
    assert ran.numbers == [] and pool.busy == 0


def test_a_listener_process_runs_every_handed_over_listener_then_stops_at_end_of_file() -> None:
    """`serve` with a real Bolt app (signatures not checked: the socket pair is ours alone):
    each message runs its lazy function once, on the listener threads, with nothing acked
    again; when the last acking process closes its end, serve returns."""
    with LocalSlack(workspaces={TOKEN: Workspace(team_id="T1")}) as slack:
        ran = Ran()
        ran.expected = 25
        acked: list[int] = []
        bolt = listener_process_app(slack)

        def confirm(body: dict[str, Any]) -> None:
            ran(body)

        bolt.action("order:confirm")(ack=lambda ack: (acked.append(1), ack()), lazy=[confirm])
        channel = Channel()
        receive = channel._receive
        local, pool = local_runner()
        runner = HandoffRunner(channel._send, local)
        woken = threading.Event()
        server = threading.Thread(target=serve, args=(bolt, receive, 3, woken.set))
        server.start()
        for n in range(25):
            runner.start(confirm, click(n))
        assert ran.all_in.wait(30)
        runner.wake_outbox()  # an acking process committed notifications itself
        assert woken.wait(10)
        runner.close()
        server.join(10)
        assert not server.is_alive()
        for end in receive:
            end.close()
    assert sorted(ran.numbers) == list(range(25))
    assert ran.threads <= {"listener_0", "listener_1", "listener_2"}
    assert acked == []  # lazy-only: the ack ran in the acking process, not again here
    assert pool.busy == 0  # nothing ran in the acking process


def test_what_the_listener_processes_are_too_slow_to_take_at_close_runs_here(pair: Pair) -> None:
    """Closing gives the listener processes `timeout` to take what waits; the rest runs on the
    acking process's own pool. Every click runs exactly once, none is dropped."""
    send, receive = pair(buffer=16_384)
    local, pool = local_runner()
    ran = Ran()
    runner = HandoffRunner(send, local)
    for n in range(40):  # nobody reads: most wait
        runner.start(ran, click(n, note="y" * 1500))
    sent = 40 - runner.waiting
    ran.expected = runner.waiting
    assert not runner.close(timeout=0.5)
    assert pool.wait_idle(10) and ran.all_in.is_set()
    in_socket = []
    while message := receive.work.recv(1 << 20):
        in_socket.append(json.loads(decode(message)[0].body["actions"][0]["value"])["n"])
    assert len(in_socket) == sent
    assert sorted(in_socket + ran.numbers) == list(range(40))


def test_a_message_over_the_read_size_runs_here_whatever_the_socket_takes(pair: Pair) -> None:
    send, receive = pair()
    local, pool = local_runner()
    ran = Ran()
    ran.expected = 1
    runner = HandoffRunner(send, local)
    runner.start(ran, click(3, note="z" * LIMIT))
    assert ran.all_in.wait(10) and ran.numbers == [3]
    runner.close()
    assert receive.work.recv(1 << 20) == b""  # nothing was sent
    pool.shutdown()


def test_a_listener_refused_after_its_ack_tells_the_user_why() -> None:
    """Authorization runs again in the listener process. When Slack refuses it there, Bolt
    answers with a text for the user that no ack can carry any more: it goes to the
    response_url, and the listener does not run."""
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk.errors import SlackApiError

    from bot.handoff import _dispatch

    def authorize(**_: Any) -> AuthorizeResult:
        raise SlackApiError("token_revoked", {"ok": False, "error": "token_revoked"})

    ran = Ran()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id="T1")}) as slack:
        bolt = App(
            signing_secret="unused",
            authorize=authorize,
            process_before_response=True,
            request_verification_enabled=False,
        )
        bolt.action("order:confirm")(ack=lambda ack: ack(), lazy=[ran])
        url = slack.new_response_url(channel="C1", user="U1", team_id="T1")
        request = click(5)
        payload = {**request.body, "response_url": url}
        request = FormSafeBoltRequest(
            body=urlencode({"payload": json.dumps(payload)}),
            headers={"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": "Ran"},
        )
        _dispatch(bolt, request)
        said = json.dumps(slack.response_messages(url))
    assert ran.numbers == []
    assert "install" in said.lower()  # Bolt's text: "Please install this app into the workspace"


def test_a_modal_goes_on_its_own_lane_past_a_full_one_and_is_taken_there(pair: Pair) -> None:
    """The work socket is full and nothing reads it; a listener that opens a modal is sent on
    the modal lane at once."""
    send, receive = pair(buffer=16_384)
    local, pool = local_runner()
    ran = Ran()
    runner = HandoffRunner(send, local)
    for n in range(40):
        runner.start(ran, click(n, note="y" * 1500))
    assert runner.waiting > 0

    def confirm_in_modal(body: dict[str, Any]) -> None:
        ran(body)

    confirm_in_modal.opens_modal = True  # type: ignore[attr-defined]
    runner.start(confirm_in_modal, click(99))
    receive.modals.settimeout(10)  # fail, not hang, if it went elsewhere
    message = receive.modals.recv(1 << 20)
    assert json.loads(decode(message)[0].body["actions"][0]["value"])["n"] == 99
    assert ran.numbers == [] and pool.busy == 0
    runner._here = True  # the rest runs here: this test only looks at the lanes
    runner.close(timeout=0.1)
    pool.wait_idle(10)
    pool.shutdown()


def test_a_listener_process_runs_a_modal_while_every_work_thread_is_stuck() -> None:
    """`serve`'s modal threads take the modal lane: Reject's listener runs (Bolt's lazy-only
    re-dispatch finds it) while the only work thread is held by a slow listener."""
    with LocalSlack(workspaces={TOKEN: Workspace(team_id="T1")}) as slack:
        release = threading.Event()
        modal_ran = threading.Event()
        bolt = listener_process_app(slack)

        def slow(body: dict[str, Any]) -> None:
            release.wait(30)

        def reason(body: dict[str, Any]) -> None:
            modal_ran.set()

        reason.opens_modal = True  # type: ignore[attr-defined]
        bolt.action("order:confirm")(ack=lambda ack: ack(), lazy=[slow])
        bolt.action("order:reject")(ack=lambda ack: ack(), lazy=[reason])
        channel = Channel()
        local, pool = local_runner()
        runner = HandoffRunner(channel._send, local)
        server = threading.Thread(
            target=serve,
            args=(bolt, channel._receive, 1, lambda: None),
            kwargs={"modal_threads": 1},
        )
        server.start()
        for n in range(3):  # one holds the work thread, two wait behind it
            runner.start(slow, click(n))
        reject = click(7)
        payload = {
            **reject.body,
            "actions": [{**reject.body["actions"][0], "action_id": "order:reject"}],
        }
        reject = create_copy(
            FormSafeBoltRequest(body=urlencode({"payload": json.dumps(payload)})).to_copyable()
        )
        reject.lazy_only, reject.lazy_function_name = True, "reason"
        runner.start(reason, reject)
        ran_first = modal_ran.wait(10) and not release.is_set()
        release.set()
        runner.close()
        server.join(30)
        for end in channel._receive:
            end.close()
        pool.shutdown()
    assert ran_first
