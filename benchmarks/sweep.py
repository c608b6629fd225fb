"""The reminder sweep: 1,000 workspaces x 100 due orders, one policy each, posted to the fake Slack.

The sweep runs in a fresh process (so its memory is its own): `Reminders.run_due()` claims every
policy's slot and queues its digest, then the outbox worker delivers them all (`drain()`).
The growth in memory is the peak resident size while it runs over the size just before: the
kernel's high-water mark, reset at the start (`/proc/self/clear_refs`), or where that is
refused, a sample every 10 ms.
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
from benchmarks.procstat import cpu_seconds, peak_rss_mb, reset_peak_rss, rss_mb
from benchmarks.report import Row


@dataclass(frozen=True)
class SweepPlan:
    """How many workspaces, and how many due orders each; and with how many scheduler processes."""

    workspaces: int = 1000
    due: int = 100
    processes: tuple[int, ...] = (1, 2)
    """Each count sweeps its own fresh copy: one process, then several at once (as when
    `orders-bot scheduler` runs on several machines), each slot claimed by one of them."""
    slack_latency: float | None = 0.15
    """Then one more sweep (one process) with every chat.postMessage answered this many seconds
    late, as Slack across the internet answers: what a sweep takes in production."""


def run(
    kind: DatabaseKind, plan: SweepPlan, slack: FakeSlack, log: Callable[[str], None]
) -> list[Row]:
    """One sweep per process count over a fresh copy of the dataset; time, posts and memory."""
    spec = sweep_spec(plan.workspaces, plan.due)
    built = kind.prepare(spec, log=log)
    channels = [merchant_channel(t.team_id) for t in spec.tenants]
    rows: list[Row] = []
    for processes in plan.processes:
        url = kind.working_copy(built, "sweep")
        log(
            f"reminder sweep on {kind.name}: {plan.workspaces:,} workspaces x {plan.due} due"
            f" orders, {processes} process{'es' if processes > 1 else ''}"
        )
        try:
            mark = slack.mark()
            figures = _sweep_with(processes, url, slack.base_url)
            posts = slack.posts_by_channel(mark)
        finally:
            kind.drop_copy(url)
        rows += _rows(kind, plan, processes, figures, posts, channels)
    if plan.slack_latency is not None:
        url = kind.working_copy(built, "sweep")
        latency_ms = round(plan.slack_latency * 1000)
        log(f"reminder sweep on {kind.name}: Slack answering posts in {latency_ms} ms")
        slack.delay("chat.postMessage", plan.slack_latency)
        try:
            mark = slack.mark()
            figures = _sweep_with(1, url, slack.base_url)
            posts = slack.posts_by_channel(mark)
        finally:
            slack.clear_faults()
            kind.drop_copy(url)
        rows += _rows(kind, plan, 1, figures, posts, channels, latency_ms=latency_ms)
    return rows


def _sweep_with(processes: int, url: str, slack_api_url: str) -> dict[str, Any]:
    """Start `processes` sweepers, let them go at the same moment, and gather their figures."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    pipes = []
    children = []
    for k in range(processes):
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_sweep, args=(child, url, slack_api_url, go), name=f"sweep-{k}"
        )
        process.start()
        pipes.append(parent)
        children.append(process)
    for parent in pipes:  # every sweeper has built its runtime and waits
        if parent.recv() != "ready":
            raise RuntimeError("a sweeper did not start")
    started = time.time()
    go.set()
    results = []
    for parent, process in zip(pipes, children, strict=True):
        ok, figures = parent.recv()
        process.join(30)
        parent.close()
        if not ok:
            raise RuntimeError(f"the sweep failed: {figures}")
        results.append(figures)
    outcomes: dict[str, int] = {}
    for figures in results:
        for name, count in figures["outcomes"].items():
            outcomes[name] = outcomes.get(name, 0) + count
    cpu = sum(f["cpu_seconds"] for f in results)
    policies = outcomes.get("queued", 0) or 1
    return {
        "processes": processes,
        "seconds": max(f["finished_at"] for f in results) - started,
        "run_due_seconds": max(f["run_due_seconds"] for f in results),
        "drained": all(f["drained"] for f in results),
        "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_policy": round(cpu * 1000 / policies, 2),
        "outcomes": outcomes,
        "rss_before_mb": max(f["rss_before_mb"] for f in results),
        "rss_peak_mb": max(f["rss_peak_mb"] for f in results),
        "peak_growth_mb": max(f["peak_growth_mb"] for f in results),
        "per_process": results,
    }


def _rows(
    kind: DatabaseKind,
    plan: SweepPlan,
    processes: int,
    figures: dict[str, Any],
    posts: dict[str, int],
    channels: list[str],
    *,
    latency_ms: int | None = None,
) -> list[Row]:
    exactly_one = sum(1 for c in channels if posts.get(c) == 1)
    stray = sum(n for c, n in posts.items() if c not in set(channels))
    figures.update(
        policies=len(channels),
        channels_with_exactly_one_post=exactly_one,
        posts=sum(posts.values()),
        posts_elsewhere=stray,
    )
    one_each = exactly_one == len(channels) and stray == 0
    suffix = "" if processes == 1 else f", {processes} scheduler processes"
    key = "" if processes == 1 else f".{processes}p"
    if latency_ms is not None:
        suffix, key = f", Slack answering in {latency_ms} ms", f".slack{latency_ms}ms"
        figures["slack_latency_ms"] = latency_ms
        # Slack's own time is not this machine's: the target is the sweep's minute.
        seconds_target, seconds_limit = "< 60 s (inside its minute)", 60.0
    else:
        seconds_target, seconds_limit = "< 10 s", 10.0
    return [
        Row(
            key=f"sweep.seconds{key}",
            what=f"reminder sweep, {plan.workspaces:,} workspaces x {plan.due} due orders{suffix}, s",
            db=kind.name,
            value=figures["seconds"],
            unit="s",
            target=seconds_target,
            passed=figures["seconds"] < seconds_limit and figures["drained"],
            details=figures,
        ),
        Row(
            key=f"sweep.posts{key}",
            what=f"reminder sweep{suffix}, policies posted exactly once",
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
            key=f"sweep.memory{key}",
            what=f"reminder sweep{suffix}, peak memory growth, MB",
            db=kind.name,
            value=figures["peak_growth_mb"],
            unit="MB",
            target="< 50 MB",
            passed=figures["peak_growth_mb"] < 50,
            details={k: figures[k] for k in ("rss_before_mb", "rss_peak_mb")},
        ),
    ]


def _sweep(conn: Any, url: str, slack_api_url: str, go: Any) -> None:
    """A child: build the runtime, say ready, sweep when told, drain, and report figures."""
    try:
        conn.send((True, sweep_once(url, slack_api_url, ready=lambda: _ready(conn, go))))
    except Exception as exc:  # reported to the parent
        conn.send((False, f"{exc.__class__.__name__}: {exc}"))
    finally:
        conn.close()


def _ready(conn: Any, go: Any) -> None:
    conn.send("ready")
    go.wait()


def sweep_once(
    url: str, slack_api_url: str, ready: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Run every policy now and deliver every digest; time, outcomes and memory."""
    from pydantic import SecretStr

    from bot.app import build_runtime, freeze_startup_heap
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        slack_bot_token=SecretStr(TOKEN),
        slack_api_url=slack_api_url,
        scheduler_enabled=False,
    )
    runtime = build_runtime(settings, mode=None, migrate=False)
    freeze_startup_heap()  # as `orders-bot scheduler` does
    try:
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.01):
                peak[0] = max(peak[0], rss_mb())

        if ready is not None:
            ready()  # built: wait for the other sweepers
        before = rss_mb()
        peak = [before]
        # The kernel keeps the peak when it can (no thread of ours in the measured process);
        # otherwise a thread samples every 10 ms.
        kernel_peak = reset_peak_rss()
        sampler = threading.Thread(target=sample, daemon=True)
        if not kernel_peak:
            sampler.start()
        started = time.perf_counter()
        cpu_before = cpu_seconds()
        # As in production, the outbox worker delivers in the background while slots are run;
        # drain() then delivers whatever is left and returns once nothing is due.
        runtime.start_background()
        outcomes = runtime.reminders.run_due()
        queued_at = time.perf_counter()
        drained = runtime.worker.drain(timeout=600)
        finished_at = time.time()
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        runtime.worker.stop()
        done.set()
        if kernel_peak:
            peak[0] = max(peak[0], peak_rss_mb())
        else:
            sampler.join()
        peak[0] = max(peak[0], rss_mb())
        results: dict[str, int] = {}
        for outcome in outcomes:
            results[outcome.result] = results.get(outcome.result, 0) + 1
        return {
            "finished_at": finished_at,
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
