"""The benchmark suite still runs end to end: `python -m benchmarks --quick` on SQLite, tiny sizes.

Only that every row is produced with numbers is checked, never a target: wall-clock figures
depend on the machine, and the real run is `python -m benchmarks` (see the README).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "footprint.memory",
    "footprint.ready",
    "lists.command_p95.list",
    "lists.command_p95.next_page",
    "lists.command_p95.search",
    "lists.command_p95.search_words",
    "lists.core_vs_raw.list_first_page",
    "lists.core_vs_raw.list_next_page",
    "lists.core_vs_raw.search_by_number",
    "lists.core_vs_raw.search_by_words",
    "clicks.handled_per_s",
    "clicks.handled_per_s_by_hand",
    "clicks.handled_per_s_vs_hand",
    "clicks.cpu_per_click",
    "clicks.ack_p99.8",
    "clicks.ack_p99.32",
    "clicks.handled_p50.1",
    "clicks.handled_p95.1",
    "clicks.handled_p50.8",
    "clicks.handled_p95.8",
    "sweep.seconds",
    "sweep.posts",
    "sweep.memory",
    "sweep.seconds.2p",
    "sweep.posts.2p",
    "sweep.memory.2p",
    "sweep.seconds.slack150ms",
    "sweep.posts.slack150ms",
    "sweep.memory.slack150ms",
    "actions.slack_calls.2",
    "actions.slack_calls.50",
    "actions.slack_calls.200",
    "actions.statements",
    "tiers.redrawn_p95",
    "tiers.rate_limited",
}


def test_quick_run_produces_every_row(tmp_path: Path) -> None:
    """Every benchmark row comes out with a number, a table is printed and JSON written."""
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--db",
            "sqlite",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "BENCH_APP_SOURCE"},
        capture_output=True,
        text=True,
        timeout=300,  # a loaded machine (the tests, a benchmark beside it) doubles its minute
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "clicks handled per second" in done.stdout, done.stdout
    results = json.loads(out.read_text())
    rows = {row["key"]: row for row in results["rows"]}
    assert set(rows) == EXPECTED, done.stderr[-3000:]
    for key, row in rows.items():
        assert isinstance(row["value"], float | int) and math.isfinite(row["value"]), (key, row)
        assert row["db"] == "sqlite"
    assert rows["sweep.posts"]["passed"] is True  # exactly one digest per policy, at any size
    # Ours really confirmed every order it was clicked for, and every click's card was redrawn
    # (a handled latency for each). The hand-written baseline confirmed what it was clicked for
    # too, but a measuring stick is not held to a promise: on a loaded machine one of its
    # clicks may fail at the load generator (seen: 23 of 24 in CI beside other work).
    confirmed = rows["clicks.handled_per_s"]["details"]["orders_confirmed"]
    assert confirmed["ours"]["in_development"] == confirmed["ours"]["expected"] > 0, confirmed
    assert 0 < confirmed["hand"]["in_development"] <= confirmed["hand"]["expected"], confirmed
    assert rows["clicks.handled_p95.8"]["details"]["ours"]["errors"] == 0
    # Without BENCH_APP_SOURCE there is no main to compare with: those targets are left open.
    assert rows["clicks.handled_per_s"]["main"] is None
    assert rows["clicks.handled_per_s"]["passed"] is None
    # Slack answering late changes how long a sweep takes, never what it posts.
    assert rows["sweep.posts.slack150ms"]["passed"] is True
    # One Confirm's Slack calls were counted at the fake Slack, and its statements in the app.
    assert rows["actions.slack_calls.200"]["value"] > 0
    assert rows["actions.statements"]["value"] > 0
    # Under Slack's tiers every click's cards were redrawn (a time for each).
    assert rows["tiers.redrawn_p95"]["details"]["ours"]["not_redrawn"] == 0
    assert {"cores", "memory_gib", "python", "date"} <= set(results["machine"])
