"""Footprint: `orders-bot run --http` idle after start (resident memory), and its time to ready."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

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
) -> list[Row]:
    """Start the app `starts` times on a dataset; the median time to /healthz and idle RSS."""
    url = kind.prepare(list_spec(size, others), log=log).url
    log(f"footprint on {kind.name}: {starts} starts")
    ready: list[float] = []
    rss: list[float] = []
    readyz: list[int] = []
    for i in range(starts):
        with apps.orders_bot(
            f"orders-bot-footprint-{kind.name}-{i}", url, slack.base_url, log_dir
        ) as app:
            ready.append(app.ready_seconds)
            readyz.append(app.probe("/readyz"))
            time.sleep(IDLE_SECONDS)
            rss.append(app.rss_mb())
    with apps.bare_bolt(f"bare-bolt-footprint-{kind.name}", slack.base_url, log_dir) as bare:
        bare_ready = bare.ready_seconds
        time.sleep(IDLE_SECONDS)
        bare_rss = bare.rss_mb()
    rss_mb, ready_s = statistics.median(rss), statistics.median(ready)
    return [
        Row(
            key="footprint.rss",
            what="orders-bot idle after start, RSS, MB",
            db=kind.name,
            value=rss_mb,
            baseline=bare_rss,
            ratio=rss_mb / bare_rss if bare_rss else None,
            unit="MB",
            target="< 120 MB",
            passed=rss_mb < 120,
            details={
                "each_start_mb": [round(x, 1) for x in rss],
                "bare_bolt_mb": round(bare_rss, 1),
            },
        ),
        Row(
            key="footprint.ready",
            what="orders-bot start to ready (/healthz), s",
            db=kind.name,
            value=ready_s,
            baseline=bare_ready,
            ratio=ready_s / bare_ready if bare_ready else None,
            unit="s",
            target="< 2 s",
            passed=ready_s < 2 and all(code == 200 for code in readyz),
            details={
                "each_start_s": [round(x, 3) for x in ready],
                "readyz_status_at_healthz": readyz,
                "bare_bolt_s": round(bare_ready, 3),
            },
        ),
    ]
