"""The reminder sweep: 1,000 workspaces x 100 due orders, one policy each, posted to the fake Slack.

Each sweeper is a fresh process (so its memory is its own) running one app's code
(`benchmarks/sweeper.py`): `Reminders.run_due()` claims every policy's slot and queues its
digest, then the outbox worker delivers them all (`drain()`). Each app sweeps a fresh copy of
its own dataset, one after the other: ours, then today's main when it runs beside ours.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from benchmarks import apps
from benchmarks.datasets import DatabaseKind, merchant_channel, sweep_spec
from benchmarks.fakeslack import TOKEN, FakeSlack
from benchmarks.report import Row

SWEEPER = Path(__file__).resolve().with_name("sweeper.py")


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
    kind: DatabaseKind,
    plan: SweepPlan,
    slack: FakeSlack,
    log_dir: Path,
    log: Callable[[str], None],
    under_test: Sequence[apps.AppUnderTest] = (apps.OURS,),
) -> list[Row]:
    """Each sweep (per process count, then with Slack late) by each app, on a fresh copy of its
    dataset; time, posts and memory, ours beside main's."""
    spec = sweep_spec(plan.workspaces, plan.due)
    channels = [merchant_channel(t.team_id) for t in spec.tenants]
    built = {app.name: kind.prepare(spec, schema=app.schema, log=log) for app in under_test}
    runs: list[tuple[int, int | None]] = [(n, None) for n in plan.processes]
    if plan.slack_latency is not None:
        runs.append((1, round(plan.slack_latency * 1000)))
    rows: list[Row] = []
    for processes, latency_ms in runs:
        measured: dict[str, tuple[dict[str, Any], dict[str, int]]] = {}
        for app in under_test:
            url = kind.working_copy(built[app.name], f"sweep-{app.name}")
            late = f", Slack answering posts in {latency_ms} ms" if latency_ms else ""
            log(
                f"reminder sweep on {kind.name}: {app.name}, {plan.workspaces:,} workspaces x"
                f" {plan.due} due orders, {processes} process{'es' if processes > 1 else ''}{late}"
            )
            if latency_ms:
                slack.delay("chat.postMessage", latency_ms / 1000)
            try:
                mark = slack.mark()
                figures = _sweep_with(app, processes, url, slack.base_url, log_dir)
                measured[app.name] = (figures, slack.posts_by_channel(mark))
            finally:
                if latency_ms:
                    slack.clear_faults()
                kind.drop_copy(url)
        rows += _rows(kind, plan, processes, measured, channels, latency_ms=latency_ms)
    return rows


def _sweep_with(
    app: apps.AppUnderTest, processes: int, url: str, slack_api_url: str, log_dir: Path
) -> dict[str, Any]:
    """Start `processes` sweepers of one app, let them go at the same moment, gather figures."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**apps.environment(app.source), **apps.limits_setting(False)}
    children: list[tuple[subprocess.Popen[str], IO[str]]] = []
    try:
        for k in range(processes):
            log = (log_dir / f"sweep-{app.name}-{k}.log").open("a")
            child = subprocess.Popen(
                [sys.executable, str(SWEEPER), url, slack_api_url, TOKEN],
                env=env,
                cwd=log_dir,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            children.append((child, log))
        for child, _ in children:  # every sweeper has built its runtime and waits
            if _line(child) != {"ready": True}:
                raise RuntimeError(f"a sweeper of {app.name} did not start: see {log_dir}")
        started = time.time()
        for child, _ in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child, _ in children:
            report = _line(child)
            child.wait(30)
            if not report.get("ok"):
                raise RuntimeError(f"the sweep of {app.name} failed: {report.get('error')}")
            results.append(report["figures"])
    finally:
        for child, log in children:
            if child.poll() is None:
                child.kill()
                child.wait(5)
            log.close()
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


def _line(child: subprocess.Popen[str]) -> dict[str, Any]:
    """The sweeper's next line of JSON (anything else it prints is skipped)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("{"):
            report: dict[str, Any] = json.loads(line)
            return report
    return {}


def _rows(
    kind: DatabaseKind,
    plan: SweepPlan,
    processes: int,
    measured: dict[str, tuple[dict[str, Any], dict[str, int]]],
    channels: list[str],
    *,
    latency_ms: int | None = None,
) -> list[Row]:
    """Three rows (time, one post per policy, memory) of ours, with main's figures beside."""
    wanted = set(channels)
    verdicts: dict[str, dict[str, Any]] = {}
    for name, (figures, posts) in measured.items():
        exactly_one = sum(1 for c in channels if posts.get(c) == 1)
        stray = sum(n for c, n in posts.items() if c not in wanted)
        figures.update(
            policies=len(channels),
            channels_with_exactly_one_post=exactly_one,
            posts=sum(posts.values()),
            posts_elsewhere=stray,
        )
        verdicts[name] = {
            "figures": figures,
            "exactly_one": exactly_one,
            "one_each": exactly_one == len(channels) and stray == 0,
        }
    ours = verdicts["ours"]
    main = verdicts.get("main")
    figures = ours["figures"]
    suffix = "" if processes == 1 else f", {processes} scheduler processes"
    key = "" if processes == 1 else f".{processes}p"
    if latency_ms is not None:
        suffix, key = f", Slack answering in {latency_ms} ms", f".slack{latency_ms}ms"
        figures["slack_latency_ms"] = latency_ms
        # Slack's own time is not this machine's: the target is the sweep's minute.
        seconds_target, seconds_limit = "< 60 s (inside its minute)", 60.0
    else:
        seconds_target, seconds_limit = "< 10 s", 10.0

    def versus(value: float, of_main: Callable[[dict[str, Any]], float]) -> dict[str, Any]:
        if main is None:
            return {}
        theirs = of_main(main)
        return {"main": theirs, "main_ratio": value / theirs if theirs else None}

    main_details = {"main": main["figures"]} if main is not None else {}
    return [
        Row(
            key=f"sweep.seconds{key}",
            what=f"reminder sweep, {plan.workspaces:,} workspaces x {plan.due} due orders{suffix}, s",
            db=kind.name,
            value=figures["seconds"],
            unit="s",
            target=seconds_target,
            passed=figures["seconds"] < seconds_limit and figures["drained"],
            details={**figures, **main_details},
            **versus(figures["seconds"], lambda m: float(m["figures"]["seconds"])),
        ),
        Row(
            key=f"sweep.posts{key}",
            what=f"reminder sweep{suffix}, policies posted exactly once",
            db=kind.name,
            value=float(ours["exactly_one"]),
            baseline=float(len(channels)),
            unit="policies",
            ratio=ours["exactly_one"] / max(len(channels), 1),
            target="exactly one post per policy",
            passed=ours["one_each"],
            details={k: figures[k] for k in ("policies", "posts", "posts_elsewhere")},
            **versus(float(ours["exactly_one"]), lambda m: float(m["exactly_one"])),
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
            **versus(figures["peak_growth_mb"], lambda m: float(m["figures"]["peak_growth_mb"])),
        ),
    ]
