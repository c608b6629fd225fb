"""The servers under test, each in its own process: our app as an operator runs it, today's main
as it ran (when `BENCH_APP_SOURCE` names a checkout of it), and the bare Bolt baselines."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

from benchmarks.datasets import THIS_SCHEMA, Schema
from benchmarks.fakeslack import TOKEN
from benchmarks.procstat import tree_memory_mb

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIGNING_SECRET = secrets.token_hex(16)
HTTP_THREADS = 8
CLICK_WORKERS = 2
"""The click suite serves ours and the bare apps with this many gunicorn workers (one per core)
x HTTP_THREADS threads (gthread): `orders-bot run --http --workers 2 --threads 8`."""
MAIN_CLICK_PROCESSES = 2
MAIN_CLICK_LISTENER_PROCESSES = 2
"""And today's main as it ran in production on two cores: HTTP_PROCESSES=2 (waitress, acking)
and LISTENER_PROCESSES=2 (the work behind each ack), each with HTTP_THREADS threads."""


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(source: Path) -> dict[str, str]:
    """This process's environment without the bot's settings, with `source` (an app's tree)
    first on PYTHONPATH: before the venv's editable install of this checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("SLACK_", "DATABASE_URL", "PORT", "HOST", "LOG_", "HTTP_", "LISTENER_", "OUTBOX_")
        )
    }
    env["PYTHONPATH"] = str(source)
    return env


def limits_setting(rate_limits: bool) -> dict[str, str]:
    """The environment that turns our budget of Slack's rate limits off (SLACK_RATE_LIMITS):
    the fake Slack of the click and sweep suites enforces none, and a click benchmark sends
    hundreds of clicks a minute into one workspace, which the budget would space to Slack's 50
    chat.update a minute (the benchmarks measure what the bot costs; the tests, Slack's pacing).
    Today's main has no such setting and ignores the variable."""
    return {} if rate_limits else {"SLACK_RATE_LIMITS": "false"}


def _env(slack_api_url: str, port: int, source: Path, **extra: str) -> dict[str, str]:
    env = environment(source)
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api_url,
        HOST="127.0.0.1",
        PORT=str(port),
        HTTP_THREADS=str(HTTP_THREADS),
        SCHEDULER_ENABLED="false",
    )
    env.update(extra)
    return env


class ServerProcess:
    """A server under test: started, probed until /healthz answers, measured, stopped."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.ready_seconds = 0.0

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Spawn it and wait until GET /healthz answers 200 (the time it took is kept)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        started = time.perf_counter()
        # The working directory is the log folder: no stray .env is read by the app, and no
        # package of the harness's checkout shadows the app's own tree.
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.log_path.parent, stdout=self._log, stderr=self._log
        )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            if self.probe("/healthz") == 200:
                self.ready_seconds = time.perf_counter() - started
                return self
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer /healthz in {timeout:g}s; see {self.log_path}"
        )

    def probe(self, path: str) -> int:
        """The status of GET path (0 when nothing answers)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=1) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as err:
            err.close()
            return int(err.code)
        except OSError:
            return 0

    @property
    def pid(self) -> int:
        """The server's process id (gunicorn's master, or the first process of today's main)."""
        assert self.process is not None
        return self.process.pid

    def memory_mb(self) -> tuple[float, list[float]]:
        """Its processes' memory now, together (`tree_memory_mb`); and each one's RSS."""
        return tree_memory_mb(self.pid)

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then kill if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class AppUnderTest:
    """An orders-bot source tree, how it is served, and the tables it works on."""

    name: str
    """"ours" (this checkout) or "main" (today's main, from BENCH_APP_SOURCE)."""
    source: Path
    schema: Schema = THIS_SCHEMA

    answers_in_ack = True
    """A slash command's answer is the body of its HTTP answer (else it is posted to the
    command's response_url after the ack)."""

    def click(self, body: str) -> str:
        """A click's signed form as this app's own card would make it (the clicks are drawn by
        this checkout's code)."""
        return body

    def server(
        self,
        name: str,
        database_url: str,
        slack_api_url: str,
        log_dir: Path,
        *,
        busy: bool = False,
        rate_limits: bool = True,
    ) -> ServerProcess:
        """`orders-bot run --http` as an operator starts it; `busy`: the production setting for
        this two-core machine (the click suite), else one worker (lists, footprint);
        `rate_limits=False`: SLACK_RATE_LIMITS=false, against the fake Slack without limits."""
        workers = CLICK_WORKERS if busy else 1
        env = _env(
            slack_api_url,
            free_port(),
            self.source,
            DATABASE_URL=database_url,
            **limits_setting(rate_limits),
        )
        argv = [str(BIN / "orders-bot"), "run", "--http", "--workers", str(workers)]
        return ServerProcess(name, [*argv, "--threads", str(HTTP_THREADS)], env, log_dir)


@dataclass(frozen=True)
class TodaysMain(AppUnderTest):
    """The runtime before the rewrite: waitress in HTTP_PROCESSES forked processes, the work
    behind each ack in LISTENER_PROCESSES more, slash commands answered on their response_url."""

    answers_in_ack = False

    def click(self, body: str) -> str:
        """The click with its buttons' values as main drew them: one-letter keys
        ({"n": 12, "v": 2, "w": {"k": "card"}}), which main reads; 61fff77 named them."""
        form = dict(parse_qsl(body))
        payload = json.loads(form["payload"])
        for action in payload.get("actions") or []:
            action["value"] = _old_button_value(action["value"])
        for block in (payload.get("message") or {}).get("blocks") or []:
            for element in block.get("elements") or []:
                if "value" in element:
                    element["value"] = _old_button_value(element["value"])
        form["payload"] = json.dumps(payload, separators=(",", ":"))
        return urlencode(form)

    def server(
        self,
        name: str,
        database_url: str,
        slack_api_url: str,
        log_dir: Path,
        *,
        busy: bool = False,
        rate_limits: bool = True,
    ) -> ServerProcess:
        """`orders-bot run --http`, with main's production setting for two cores when `busy`
        (main has no budget of Slack's limits: `rate_limits` changes nothing for it)."""
        processes = MAIN_CLICK_PROCESSES if busy else 1
        listeners = MAIN_CLICK_LISTENER_PROCESSES if busy else 0
        env = _env(
            slack_api_url,
            free_port(),
            self.source,
            DATABASE_URL=database_url,
            HTTP_PROCESSES=str(processes),
            LISTENER_PROCESSES=str(listeners),
        )
        return ServerProcess(name, [str(BIN / "orders-bot"), "run", "--http"], env, log_dir)


_OLD_KEYS = {"order": "n", "version": "v", "where": "w", "kind": "k"}


def _old_button_value(value: str) -> str:
    """An order button's value with main's keys; any other value as it is."""
    try:
        data = json.loads(value)
    except ValueError:
        return value
    if not isinstance(data, dict) or "order" not in data:
        return value

    def renamed(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        unknown = set(item) - set(_OLD_KEYS)
        if unknown:  # a key main's value never had a letter for here: say so, never guess
            raise ValueError(f"no key of main's for {sorted(unknown)} in {value}")
        return {_OLD_KEYS[k]: renamed(v) for k, v in item.items()}

    return json.dumps(renamed(data), separators=(",", ":"))


OURS = AppUnderTest("ours", ROOT)


def apps_under_test() -> list[AppUnderTest]:
    """Ours, and today's main when BENCH_APP_SOURCE names a checkout of it."""
    source = os.environ.get("BENCH_APP_SOURCE")
    if not source:
        return [OURS]
    tree = Path(source).resolve()
    if not (tree / "bot").is_dir() or not (tree / "orders_core").is_dir():
        raise SystemExit(f"BENCH_APP_SOURCE={source}: no bot/ and orders_core/ there")
    if tree == ROOT:
        raise SystemExit(f"BENCH_APP_SOURCE={source} is this checkout: name a checkout of main")
    return [OURS, TodaysMain("main", tree, Schema("main", tree))]


def bare_bolt(
    name: str,
    slack_api_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    database_url: str | None = None,
) -> ServerProcess:
    """The baseline bare Bolt app under gunicorn (gthread) with as many workers and threads as
    ours; with `database_url`, the hand-written app (the click's writes in raw SQL there)."""
    extra = {"BARE_DATABASE_URL": database_url} if database_url else {}
    env = _env(slack_api_url, free_port(), ROOT, HTTP_WORKERS=str(workers), **extra)
    argv = [str(BIN / "gunicorn"), "-c", "python:benchmarks.bare_bolt", "benchmarks.bare_bolt:app"]
    return ServerProcess(name, argv, env, log_dir)
