"""The bot's WSGI app served from a thread of this process, for the console and the tests.

The standard library's wsgiref, one thread per request: what production runs is gunicorn
(bot/wsgi.py); here nothing needs more than a local port.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: the bot logs what matters itself."""


class LocalServer:
    """A WSGI app on 127.0.0.1 (a free port unless one is given), served from a thread."""

    def __init__(self, app: Callable[..., Iterable[bytes]], *, port: int = 0) -> None:
        self.server = make_server(
            "127.0.0.1", port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> LocalServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close the port."""
        self.server.shutdown()
        self.server.server_close()
