"""Configuration from the environment (or a `.env` file), validated at start.

Each problem is reported as one line naming the variable and what it should look like; tokens
and secrets are never printed.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orders_core.db import DEFAULT_DATABASE_URL, normalize_url


class SettingsError(Exception):
    """The configuration cannot start the bot; the message names each variable at fault."""


class Mode(StrEnum):
    """How the bot talks to Slack."""

    SOCKET = "socket"
    HTTP = "http"


_SHAPES = {
    "slack_bot_token": (r"^xoxb-[A-Za-z0-9-]+$", "a bot token starting with xoxb-"),
    "slack_app_token": (r"^xapp-[A-Za-z0-9-]+$", "an app-level token starting with xapp-"),
    "slack_signing_secret": (
        r"^[0-9a-f]{32}$",
        "the 32 hexadecimal characters of the app's Signing Secret",
    ),
}


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL)
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_redirect_uri: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_timeout_seconds: int = Field(default=10, ge=1, le=60)
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    http_threads: int = Field(default=8, ge=1, le=256)
    http_workers: int = Field(default=1, ge=1, le=64)
    """HTTP mode: gunicorn worker processes (each with its threads, its database pool, its
    outbox worker): one per core."""
    outbox_threads: int = Field(default=16, ge=1, le=128)
    """Slack calls one process's outbox worker makes at once, each for a different lane (a
    channel, a message): a sweep waits on Slack's answers, not on this machine."""
    slack_rate_limits: bool = True
    """Space each workspace's Slack calls within Slack's rate-limit tiers (bot.delivery.budget).
    Off only against a Slack-compatible server without limits (the benchmarks' fake Slack)."""
    log_level: str = "INFO"
    log_format: str = "text"
    scheduler_enabled: bool = True
    reminder_grace_seconds: int = Field(default=3600, ge=0)

    @field_validator("slack_bot_token", "slack_app_token", "slack_signing_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(normalize_url(value)).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                "should be sqlite:///PATH (a file) or postgresql://USER:PASSWORD@HOST:5432/DATABASE"
            )
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("should be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError("should be text or json")
        return value.lower()

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("should be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def database_pool(self) -> int:
        """Connections a process keeps open to PostgreSQL: one for each thread that may hold one
        at once (listener and delivery threads) and a few for the worker and the scheduler,
        halved because they rarely all hold one together; as many again may open under load."""
        return max(10, (self.outbox_threads + self.http_threads + 4) // 2)

    @property
    def database_connections(self) -> int:
        """The most PostgreSQL connections one process may open (its pool and the overflow)."""
        return 2 * self.database_pool

    @property
    def oauth(self) -> bool:
        """Distributed to many workspaces (OAuth) rather than one bot token."""
        return bool(self.slack_client_id or self.slack_client_secret)

    def require_slack(self, mode: Mode | None) -> None:
        """Check the Slack settings `mode` needs (None: just the bot token); raise SettingsError."""
        if self.oauth:
            problems = [
                f"{name.upper()} is not set: {shape}."
                for name, shape in (
                    (
                        "slack_client_id",
                        "with SLACK_CLIENT_SECRET it turns on OAuth: the app's Client ID",
                    ),
                    (
                        "slack_client_secret",
                        "with SLACK_CLIENT_ID it turns on OAuth: the app's Client Secret",
                    ),
                    (
                        "slack_signing_secret",
                        "it should be the 32 hexadecimal characters of the app's Signing Secret",
                    ),
                )
                if getattr(self, name) is None
            ]
            if mode is Mode.SOCKET:
                problems.append(
                    "OAuth (SLACK_CLIENT_ID) installs into many workspaces over HTTP: run with --http."
                )
            if problems:
                raise SettingsError("\n".join(problems))
            return
        needed = ["slack_bot_token"]
        if mode is not None:
            needed.append("slack_app_token" if mode is Mode.SOCKET else "slack_signing_secret")
        problems = []
        for name in needed:
            value = getattr(self, name)
            pattern, shape = _SHAPES[name]
            if value is None:
                problems.append(f"{name.upper()} is not set: it should be {shape}.")
            elif not re.match(pattern, value.get_secret_value()):
                problems.append(f"{name.upper()} is malformed: it should be {shape}.")
        if problems:
            raise SettingsError("\n".join(problems))


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's report into one line per variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "SETTINGS"
            lines.append(f"{name} is invalid: {err['msg'].removeprefix('Value error, ')}.")
        raise SettingsError("\n".join(lines)) from None
