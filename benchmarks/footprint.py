"""Footprint: `orders-bot run --http` idle after start (its processes' memory), and its time to
ready; beside the bare Bolt app under the same server, and today's main as it ran."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import apps
from benchmarks.datasets import DatabaseKind, list_spec
from benchmarks.fakeslack import FakeSlack
from benchmarks.report import Row

IDLE_SECONDS = 2.0


def run(
    kind: DatabaseKind,
    size: int,
    others: int,
    starts: int,
    slack: FakeSlack,
    log_dir: Path,
    log: Callable[[str], None],
    under_test: Sequence[apps.AppUnderTest] = (apps.OURS,),
) -> list[Row]:
    """Start each app `starts` times on a dataset; the median time to /healthz and idle memory.

    Memory is what the server's processes take together (gunicorn's master and its worker; main's
    one process): the largest one's RSS plus the private memory of the others, so the pages the
    master shares with its worker after the fork count once."""
    figures: dict[str, dict[str, Any]] = {}
    for app in under_test:
        url = kind.prepare(list_spec(size, others), schema=app.schema, log=log).url
        log(f"footprint on {kind.name}: {app.name}, {starts} starts")
        ready: list[float] = []
        memory: list[float] = []
        rss: list[list[float]] = []
        readyz: list[int] = []
        for i in range(starts):
            with app.server(
                f"orders-bot-footprint-{app.name}-{kind.name}-{i}", url, slack.base_url, log_dir
            ) as server:
                ready.append(server.ready_seconds)
                readyz.append(server.probe("/readyz"))
                time.sleep(IDLE_SECONDS)
                together, each = server.memory_mb()
                memory.append(together)
                rss.append(each)
        figures[app.name] = {
            "memory_mb": statistics.median(memory),
            "ready_s": statistics.median(ready),
            "each_start_mb": [round(x, 1) for x in memory],
            "each_start_rss_of_each_process_mb": rss,
            "each_start_s": [round(x, 3) for x in ready],
            "readyz_status_at_healthz": readyz,
        }
    with apps.bare_bolt(f"bare-bolt-footprint-{kind.name}", slack.base_url, log_dir) as bare:
        bare_ready = bare.ready_seconds
        time.sleep(IDLE_SECONDS)
        bare_memory, bare_rss = bare.memory_mb()
    ours = figures["ours"]
    main = figures.get("main")

    def versus(key: str) -> dict[str, float | None]:
        if main is None:
            return {"main": None, "main_ratio": None}
        return {"main": main[key], "main_ratio": ours[key] / max(main[key], 1e-9)}

    details = {**figures, "bare": {"memory_mb": round(bare_memory, 1), "rss_of_each_mb": bare_rss}}
    return [
        Row(
            key="footprint.memory",
            what="orders-bot idle after start, memory (its processes together), MB",
            db=kind.name,
            value=ours["memory_mb"],
            baseline=bare_memory,
            ratio=ours["memory_mb"] / bare_memory if bare_memory else None,
            unit="MB",
            target="< 120 MB",
            passed=ours["memory_mb"] < 120,
            details=details,
            **versus("memory_mb"),
        ),
        Row(
            key="footprint.ready",
            what="orders-bot start to ready (/healthz), s",
            db=kind.name,
            value=ours["ready_s"],
            baseline=bare_ready,
            ratio=ours["ready_s"] / bare_ready if bare_ready else None,
            unit="s",
            target="< 2 s",
            passed=ours["ready_s"] < 2
            and all(code == 200 for code in ours["readyz_status_at_healthz"]),
            details={**details, "bare": {**details["bare"], "ready_s": round(bare_ready, 3)}},
            **versus("ready_s"),
        ),
    ]
