"""The servers under test, each in its own process: our app as an operator runs it, and the baseline."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from benchmarks import APP_SOURCE
from benchmarks.fakeslack import TOKEN
from benchmarks.procstat import rss_mb

ROOT = Path(__file__).resolve().parent.parent
ORDERS_BOT = str(Path(sys.executable).with_name("orders-bot"))
SIGNING_SECRET = secrets.token_hex(16)
HTTP_THREADS = 8
CLICK_PROCESSES = 2
"""The click suite serves both apps with this many processes (HTTP_PROCESSES), one per core."""
CLICK_LISTENER_PROCESSES = 2
"""And ours with this many listener processes beside them (LISTENER_PROCESSES), one per core:
the production setting for a machine like this one (README, Configuration)."""


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(slack_api_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("SLACK_", "DATABASE_URL", "PORT", "HOST", "LOG_", "HTTP_", "LISTENER_")
        )
    }
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api_url,
        HOST="127.0.0.1",
        PORT=str(port),
        HTTP_THREADS=str(HTTP_THREADS),
        SCHEDULER_ENABLED="false",
        PYTHONPATH=os.pathsep.join(str(p) for p in (APP_SOURCE, ROOT) if p is not None),
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
        # The working directory is the log folder: no stray .env is read by the app.
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
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def rss_mb(self) -> float:
        """Its resident memory now."""
        return rss_mb(self.pid)

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


def orders_bot(
    name: str,
    database_url: str,
    slack_api_url: str,
    log_dir: Path,
    *,
    processes: int = 1,
    listener_processes: int = 0,
) -> ServerProcess:
    """`orders-bot run --http`, as an operator starts it (its production server, waitress)."""
    env = _env(
        slack_api_url,
        free_port(),
        DATABASE_URL=database_url,
        LOG_LEVEL="INFO",
        HTTP_PROCESSES=str(processes),
        LISTENER_PROCESSES=str(listener_processes),
    )
    return ServerProcess(name, [ORDERS_BOT, "run", "--http"], env, log_dir)


def bare_bolt(
    name: str,
    slack_api_url: str,
    log_dir: Path,
    *,
    processes: int = 1,
    database_url: str | None = None,
) -> ServerProcess:
    """The baseline bare Bolt app, under the same server with the same threads and processes;
    with `database_url`, the hand-written app (the click's writes in raw SQL there)."""
    extra = {"BARE_DATABASE_URL": database_url} if database_url else {}
    env = _env(slack_api_url, free_port(), HTTP_PROCESSES=str(processes), **extra)
    return ServerProcess(name, [sys.executable, "-m", "benchmarks.bare_bolt"], env, log_dir)
