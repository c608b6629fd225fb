"""The HTTP server: Slack's Web API (/api/METHOD), response_urls (/response/ID) and file
uploads (/upload/ID) on a local port. It parses requests and writes answers; webapi.py decides
them."""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import select
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.console.localslack.webapi import Answer, WebApi

log = logging.getLogger(__name__)

# Arguments Slack takes as JSON-encoded strings when a client sends a form body.
_JSON_ARGS = frozenset(
    {"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks", "files"}
)


class HttpServer(ThreadingHTTPServer):
    """A thread per connection, each answered by the WebApi."""

    daemon_threads = True
    request_queue_size = 128  # a burst of new connections must not overflow the listen backlog

    def __init__(
        self, address: tuple[str, int], web_api: WebApi, stopping: threading.Event
    ) -> None:
        super().__init__(address, _Handler)
        self.web_api = web_api
        self.stopping = stopping
        self.root_url = f"http://{address[0]}:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: HttpServer
    server_version = "LocalSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; every request is recorded instead."""

    def do_GET(self) -> None:
        """Answer Web API calls sent as GET with a query string."""
        self._route(b"")

    def do_POST(self) -> None:
        """Answer Web API calls, response_url posts and file uploads."""
        length = int(self.headers.get("Content-Length") or 0)
        self._route(self.rfile.read(length) if length else b"")

    def _route(self, raw: bytes) -> None:
        web_api = self.server.web_api
        parts = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items()}
        content_type = self.headers.get("Content-Type") or ""
        try:
            if parts.path.startswith("/api/"):
                args = parse_args(raw, content_type, parts.query)
                root = self.server.root_url
                self._answer(web_api.call(parts.path[5:], args, headers, root))
            elif parts.path.startswith("/response/"):
                payload = parse_args(raw, content_type, "")
                if isinstance(payload.get("payload"), str):
                    payload = json.loads(payload["payload"])
                self._answer(web_api.post_response(parts.path[10:], payload, headers))
            elif parts.path.startswith("/upload/"):
                status = web_api.upload(parts.path[8:], raw, headers)
                self._answer_text(status, f"OK - {len(raw)}" if status == 200 else "not found")
            else:
                self._answer_text(404, "not found")
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test); nothing is left to answer.
            pass
        except ValueError as err:
            body = {"ok": False, "error": "invalid_form_data", "detail": str(err)}
            self._answer(Answer(200, body, {}))
        except Exception as err:  # a bug here, or a fault's predicate that raised
            log.exception("LocalSlack could not answer %s", parts.path)
            self._answer(
                Answer(500, {"ok": False, "error": "localslack_error", "detail": repr(err)}, {})
            )

    def _answer(self, answer: Answer) -> None:
        if answer.lost == "timeout":
            self._hold_until_the_client_leaves()
        if answer.lost is not None:
            self.close_connection = True  # closed with nothing sent: the answer is lost
            return
        data = json.dumps(answer.body).encode("utf-8")
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _answer_text(self, status: int, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _hold_until_the_client_leaves(self) -> None:
        """Send nothing until the client closes the connection (its timeout) or we stop."""
        sock = self.connection
        while not self.server.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                try:
                    if not sock.recv(1024):
                        return  # the client closed its end
                except OSError:
                    return


def parse_args(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    """A call's arguments from its query string and body (JSON, form or multipart)."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";", 1)[0].strip().lower()
    if raw:
        if media_type == "application/json" or raw.lstrip().startswith(b"{"):
            decoded = json.loads(raw.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("a JSON body must be an object")
            args.update(decoded)
        elif media_type == "multipart/form-data":
            args.update(_parse_multipart(raw, content_type))
        else:
            args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    for key in _JSON_ARGS & args.keys():
        if isinstance(args[key], str) and args[key][:1] in {"[", "{"}:
            args[key] = json.loads(args[key])
    return args


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = data if part.get_filename() else data.decode("utf-8")
    return fields
