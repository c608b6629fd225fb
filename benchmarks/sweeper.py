"""One sweeper of the reminder sweep benchmark, in a process of its own, on one app's code.

    PYTHONPATH=TREE python benchmarks/sweeper.py DATABASE_URL SLACK_API_URL TOKEN

Run as a script, its own folder is first on sys.path: `procstat` is the harness's, a sibling
module, and `bot` and `orders_core` come from TREE (ours, or today's main, whose checkout has a
`benchmarks` package of its own that `-m benchmarks.sweeper` would find instead). It builds that tree's runtime, prints `{"ready": true}` and waits for a line on
stdin; then `Reminders.run_due()` claims every policy's slot and queues its digest while the
outbox worker delivers, `drain()` delivers the rest, and one line of JSON reports the figures.
The growth in memory is the peak resident size while it runs over the size just before: the
kernel's high-water mark, reset at the start (`/proc/self/clear_refs`), or where that is
refused, a sample every 10 ms. Only the standard library and `benchmarks.procstat` are
imported from the harness, so the app's tree decides everything else.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from typing import Any

from procstat import cpu_seconds, peak_rss_mb, reset_peak_rss, rss_mb


def sweep_once(url: str, slack_api_url: str, token: str) -> dict[str, Any]:
    """Build the runtime, say ready, wait for the word, run every policy now and deliver every
    digest; time, outcomes and memory."""
    from pydantic import SecretStr

    import bot.app
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        slack_bot_token=SecretStr(token),
        slack_api_url=slack_api_url,
        scheduler_enabled=False,
    )
    runtime = bot.app.build_runtime(settings, mode=None, migrate=False)
    # As each tree's `orders-bot scheduler` starts: today's main froze its startup heap.
    freeze = getattr(bot.app, "freeze_startup_heap", None)
    if freeze is not None:
        freeze()
    try:
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.01):
                peak[0] = max(peak[0], rss_mb())

        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()  # every sweeper has built its runtime: go
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
        start = getattr(runtime, "start_background", None) or runtime.start  # main's, ours
        start()
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


def main() -> None:
    """Sweep once; report on stdout."""
    url, slack_api_url, token = sys.argv[1:4]
    try:
        report: dict[str, Any] = {"ok": True, "figures": sweep_once(url, slack_api_url, token)}
    except Exception as exc:  # reported to the parent
        traceback.print_exc()
        report = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
