"""The reminder sweep: 1,000 workspaces x 100 due orders, one policy each, posted to the fake Slack.

The sweep runs in a fresh process (so its memory is its own): `Reminders.run_due()` claims every
policy's slot and queues its digest, then the outbox worker delivers them all (`drain()`).
Memory is sampled every 10 ms while it runs; the growth is the peak over the resident size
just before.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.datasets import DatabaseKind, merchant_channel, sweep_spec
from benchmarks.fakeslack import TOKEN, FakeSlack
from benchmarks.procstat import cpu_seconds, rss_mb
from benchmarks.report import Row


@dataclass(frozen=True)
class SweepPlan:
    """How many workspaces, and how many due orders each."""

    workspaces: int = 1000
    due: int = 100


def run(
    kind: DatabaseKind, plan: SweepPlan, slack: FakeSlack, log: Callable[[str], None]
) -> list[Row]:
    """One sweep over a fresh copy of the dataset; its time, posts and memory."""
    spec = sweep_spec(plan.workspaces, plan.due)
    built = kind.prepare(spec, log=log)
    url = kind.working_copy(built, "sweep")
    log(f"reminder sweep on {kind.name}: {plan.workspaces:,} workspaces x {plan.due} due orders")
    try:
        mark = slack.mark()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_sweep, args=(child, url, slack.base_url), name="sweep")
        process.start()
        ok, figures = parent.recv()
        process.join(30)
        parent.close()
        if not ok:
            raise RuntimeError(f"the sweep failed: {figures}")
        posts = slack.posts_by_channel(mark)
    finally:
        kind.drop_copy(url)
    channels = [merchant_channel(t.team_id) for t in spec.tenants]
    exactly_one = sum(1 for c in channels if posts.get(c) == 1)
    stray = sum(n for c, n in posts.items() if c not in set(channels))
    figures.update(
        policies=len(channels),
        channels_with_exactly_one_post=exactly_one,
        posts=sum(posts.values()),
        posts_elsewhere=stray,
    )
    one_each = exactly_one == len(channels) and stray == 0
    return [
        Row(
            key="sweep.seconds",
            what=f"reminder sweep, {plan.workspaces:,} workspaces x {plan.due} due orders, s",
            db=kind.name,
            value=figures["seconds"],
            unit="s",
            target="< 10 s",
            passed=figures["seconds"] < 10 and figures["drained"],
            details=figures,
        ),
        Row(
            key="sweep.posts",
            what="reminder sweep, policies posted exactly once",
            db=kind.name,
            value=float(exactly_one),
            baseline=float(len(channels)),
            unit="policies",
            ratio=exactly_one / max(len(channels), 1),
            target="exactly one post per policy",
            passed=one_each,
            details={k: figures[k] for k in ("policies", "posts", "posts_elsewhere")},
        ),
        Row(
            key="sweep.memory",
            what="reminder sweep, peak memory growth, MB",
            db=kind.name,
            value=figures["peak_growth_mb"],
            unit="MB",
            target="< 50 MB",
            passed=figures["peak_growth_mb"] < 50,
            details={k: figures[k] for k in ("rss_before_mb", "rss_peak_mb")},
        ),
    ]


def _sweep(conn: Any, url: str, slack_api_url: str) -> None:
    """The child: build the runtime, sweep, drain, and report figures."""
    try:
        conn.send((True, sweep_once(url, slack_api_url)))
    except Exception as exc:  # reported to the parent
        conn.send((False, f"{exc.__class__.__name__}: {exc}"))
    finally:
        conn.close()


def sweep_once(url: str, slack_api_url: str) -> dict[str, Any]:
    """Run every policy now and deliver every digest; time, outcomes and memory."""
    from pydantic import SecretStr

    from bot.app import build_runtime
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        slack_bot_token=SecretStr(TOKEN),
        slack_api_url=slack_api_url,
        scheduler_enabled=False,
    )
    runtime = build_runtime(settings, mode=None, migrate=False)
    try:
        before = rss_mb()
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.01):
                peak[0] = max(peak[0], rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        cpu_before = cpu_seconds()
        # As in production, the outbox worker delivers in the background while slots are run;
        # drain() then delivers whatever is left and returns once nothing is due.
        runtime.start_background()
        outcomes = runtime.reminders.run_due()
        queued_at = time.perf_counter()
        drained = runtime.worker.drain(timeout=600)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        runtime.worker.stop()
        done.set()
        sampler.join()
        peak[0] = max(peak[0], rss_mb())
        results: dict[str, int] = {}
        for outcome in outcomes:
            results[outcome.result] = results.get(outcome.result, 0) + 1
        return {
            "seconds": seconds,
            "run_due_seconds": queued_at - started,
            "drain_after_run_due_seconds": seconds - (queued_at - started),
            "drained": drained,
            "cpu_seconds": round(cpu, 2),
            "cpu_ms_per_policy": round(cpu * 1000 / max(len(outcomes), 1), 2),
            "outcomes": results,
            "rss_before_mb": round(before, 1),
            "rss_peak_mb": round(peak[0], 1),
            "peak_growth_mb": round(peak[0] - before, 1),
        }
    finally:
        runtime.db.dispose()
