"""Logging: readable text by default, one JSON object per line with LOG_FORMAT=json."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bot.delivery.clients import set_request_log_level

_SECRETS = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_VERIFICATION_TOKEN = re.compile(
    r"""(\btoken(?:=|["']?\s*:\s*["'])|%22token%22%3A(?:%20)*%22)([A-Za-z0-9_-]{6,})""", re.I
)
"""Slack's legacy verification token in a request body (form `token=…`, JSON `"token": "…"`, or
that JSON form-encoded): Bolt logs the whole body of a request whose signature it refuses."""
CONTEXT_FIELDS = ("team_id", "user_id", "order", "request_id", "kind", "lane")
_context: contextvars.ContextVar[tuple[tuple[str, Any], ...]] = contextvars.ContextVar(
    "log_context", default=()
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (workspace, user, order, request id) to every log line written inside."""
    token = _context.set(_merged(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the log lines of the rest of this context (a listener, a request)."""
    _context.set(_merged(fields))


def current_request_id() -> str | None:
    """The request id of the log context here, if any (to carry it to another process)."""
    return dict(_context.get()).get("request_id")


def _merged(fields: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    merged = dict(_context.get())
    merged.update({k: v for k, v in fields.items() if v is not None})
    return tuple(merged.items())


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record."""
        for key, value in _context.get():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def redact(text: str) -> str:
    """Never let a Slack token (nor the verification token of a request body) reach a log line."""
    text = _SECRETS.sub(lambda m: m.group(0)[:5] + "…", text)
    return _VERIFICATION_TOKEN.sub(lambda m: m.group(1) + "…", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any context fields."""

    FIELDS = CONTEXT_FIELDS

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in self.FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Plain text with the context fields at the end, tokens removed."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text."""
        extra = " ".join(
            f"{k}={getattr(record, k)}"
            for k in CONTEXT_FIELDS
            if getattr(record, k, None) is not None
        )
        return redact(super().format(record) + (f" [{extra}]" if extra else ""))


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic says "Context impl …" each time the schema's revision is read (every start and
    # readiness probe): noise, unless something is wrong.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    logging.captureWarnings(True)  # a library's warning is a log line too, in the same format
    set_request_log_level(level)
