"""The baseline: a bare Bolt app that acks a click and makes the same `chat.update` call.

It runs under the very server our app runs under (waitress, through `bot.http.HttpServer`, with
as many threads), with Bolt's own WSGI adapter and a listener pool of the same size, so the
difference in a benchmark is what our app does, not how it is served.

    python -m benchmarks.bare_bolt     # PORT, HOST, HTTP_THREADS, SLACK_* from the environment
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.http import HttpServer, fork_processes, listening_socket, stop_processes


def build_app(*, signing_secret: str, api_url: str, token: str, threads: int) -> App:
    """A Bolt app with one action listener: ack, then redraw the clicked message."""
    app = App(
        signing_secret=signing_secret,
        client=WebClient(base_url=api_url, token=token),
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=threads, thread_name_prefix="listener"),
    )

    @app.action(re.compile("^order:"))
    def on_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        container = body["container"]
        message = body.get("message") or {}
        user = body["user"]["id"]
        # The message as it was, minus its buttons, plus who acted: what any bot would draw.
        blocks = [b for b in message.get("blocks") or [] if b.get("type") != "actions"]
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Confirmed by <@{user}>"}]}
        )
        client.chat_update(
            channel=container["channel_id"],
            ts=container["message_ts"],
            text=f"Confirmed by <@{user}>",
            blocks=blocks,
        )

    return app


Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_health(handler: Wsgi) -> Wsgi:
    """Answer GET /healthz like our app, so both are started and probed the same way."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return handler(environ, start_response)

    return app


def main() -> None:
    """Serve until SIGTERM."""
    threads = int(os.environ.get("HTTP_THREADS", "8"))
    processes = int(os.environ.get("HTTP_PROCESSES", "1"))
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))
    # Like `orders-bot run --http` with HTTP_PROCESSES: one socket, forked before any thread.
    sock = listening_socket(host, port) if processes > 1 else None
    index, children = fork_processes(processes) if sock else (0, [])
    app = build_app(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        api_url=os.environ["SLACK_API_URL"],
        token=os.environ["SLACK_BOT_TOKEN"],
        threads=max(4, threads),  # our app's listener pool: max(4, HTTP_THREADS)
    )
    server = HttpServer(
        with_health(SlackRequestHandler(app)), host=host, port=port, threads=threads, sock=sock
    )
    signal.signal(signal.SIGTERM, lambda *_: server.request_stop())
    signal.signal(signal.SIGINT, lambda *_: server.request_stop())
    if index == 0:
        print(f"bare Bolt app listening on {server.url}", file=sys.stderr, flush=True)
    server.serve_forever(grace=5)
    if index > 0:
        os._exit(0)
    stop_processes(children)


if __name__ == "__main__":
    main()
