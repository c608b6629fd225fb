"""Run the benchmarks: `python -m benchmarks [--sizes 10k,100k,1m] [--db sqlite,postgres] [--quick]`.

Prints one table (each figure beside its baseline from the same run, the ratio and the target)
and writes the same rows, with every detail and the machine's description, as JSON.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import actions, apps, clicks, footprint, lists, sweep, tiers
from benchmarks.datasets import DATA_DIR, DatabaseKind, PostgresKind, SqliteKind, parse_size
from benchmarks.fakeslack import FakeSlack
from benchmarks.load import LoadProcess
from benchmarks.procstat import machine
from benchmarks.report import Row, render_markdown, render_table, write_json

SUITES = ("footprint", "lists", "clicks", "sweep", "actions", "tiers")
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="10k,100k,1m",
        help="list/search dataset sizes; the first is the baseline",
    )
    parser.add_argument(
        "--db", default="sqlite,postgres", help="databases: sqlite, postgres or both"
    )
    parser.add_argument(
        "--only", default=",".join(SUITES), help=f"suites to run: {', '.join(SUITES)}"
    )
    parser.add_argument("--sweep", default="1000x100", help="reminder sweep: WORKSPACESxDUE_ORDERS")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke run of every row in seconds"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "latest.json", help="the results file (JSON)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help="where SQLite datasets are cached"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the suites asked for on each database; print and save the rows."""
    args = parse_args(argv)
    started = time.monotonic()
    load_at_start = os.getloadavg()  # the machine is shared: how busy it was, beside the figures

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    suites = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(suites) - set(SUITES)
    if unknown:
        print(f"unknown suite(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    under_test = apps.apps_under_test()
    if len(under_test) > 1:
        log("apps under test: " + ", ".join(f"{a.name} ({a.source})" for a in under_test))
    sizes = (300, 1000) if args.quick else tuple(parse_size(s) for s in args.sizes.split(","))
    workspaces, due = (5, 10) if args.quick else (int(x) for x in args.sweep.lower().split("x"))
    list_plan = (
        lists.ListPlan(
            sizes=sizes,
            samples=5,
            warmup=1,
            query_samples=10,
            search="123",
            words="Mini program 123",
        )
        if args.quick
        else lists.ListPlan(sizes=sizes)
    )
    click_plan = (
        clicks.ClickPlan(
            merchants=2,
            warmup=4,
            throughput=20,
            throughput_clients=4,
            acks=((8, 16), (32, 32)),
            handled=((1, 5), (8, 16)),
        )
        if args.quick
        else clicks.ClickPlan()
    )
    sweep_plan = sweep.SweepPlan(workspaces, due)
    # The actions suite counts at its real team sizes even when quick (a few seconds each).
    action_plan = actions.ActionPlan()
    tier_plan = tiers.TierPlan(per_minute=30, minutes=0.2) if args.quick else tiers.TierPlan()
    log_dir = args.out.parent / "logs"
    rows: list[Row] = []
    for db_name in [d.strip() for d in args.db.split(",") if d.strip()]:
        kind: DatabaseKind
        if db_name == "postgres":
            kind = PostgresKind()
            why = kind.available()
            if why is not None:
                log(f"skipping PostgreSQL: {why}")
                rows.append(
                    Row("postgres", "PostgreSQL", "postgres", None, "", details={"skipped": why})
                )
                continue
        elif db_name == "sqlite":
            kind = SqliteKind(args.data_dir / "sqlite")
        else:
            print(f"unknown database {db_name!r}: use sqlite or postgres", file=sys.stderr)
            return 2
        plans = Plans(list_plan, click_plan, sweep_plan, action_plan, tier_plan)
        runs = _suites(kind, args.quick, sizes, plans, log_dir, log, under_test)
        for suite in SUITES:
            if suite not in suites:
                continue
            try:
                # A fresh fake Slack per suite: its recorded calls never slow the next one down.
                with FakeSlack() as slack:
                    rows += runs[suite](slack)
            except Exception as exc:  # one failing suite must not hide the others' rows
                log(f"{suite} on {db_name} failed: {exc}")
                traceback.print_exc()
                rows.append(
                    Row(
                        f"{suite}.error",
                        f"{suite} (failed to run)",
                        db_name,
                        None,
                        "",
                        passed=False,
                        details={"error": f"{exc.__class__.__name__}: {exc}"},
                    )
                )
    facts = machine()
    settings = {
        "argv": sys.argv[1:] if argv is None else argv,
        "sizes": sizes,
        "sweep": f"{workspaces}x{due}",
        "quick": args.quick,
        "http_threads": apps.HTTP_THREADS,
        "click_workers": apps.CLICK_WORKERS,
        "main_click_processes": apps.MAIN_CLICK_PROCESSES,
        "main_click_listener_processes": apps.MAIN_CLICK_LISTENER_PROCESSES,
        "apps_under_test": {a.name: str(a.source) for a in under_test},
        "ours": _checkout(),
        "seconds": round(time.monotonic() - started, 1),
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    render_table(rows, facts)
    write_json(args.out, rows, facts, settings)
    args.out.with_suffix(".md").write_text(render_markdown(rows, facts))
    log(f"results written to {args.out} (and the table to {args.out.with_suffix('.md')})")
    return 0


@dataclass(frozen=True)
class Plans:
    """What each suite does (sizes, counts, paces)."""

    lists: lists.ListPlan
    clicks: clicks.ClickPlan
    sweep: sweep.SweepPlan
    actions: actions.ActionPlan
    tiers: tiers.TierPlan


def _suites(
    kind: DatabaseKind,
    quick: bool,
    sizes: tuple[int, ...],
    plans: Plans,
    log_dir: Path,
    log: Callable[[str], None],
    under_test: Sequence[apps.AppUnderTest],
) -> dict[str, Callable[[FakeSlack], list[Row]]]:
    """Each suite on one database, as a function of the fake Slack it runs against."""

    def run_footprint(slack: FakeSlack) -> list[Row]:
        starts = 1 if quick else 3
        others = plans.lists.others(sizes[0])
        return footprint.run(kind, sizes[0], others, starts, slack, log_dir, log, under_test)

    def run_lists(slack: FakeSlack) -> list[Row]:
        return lists.run(kind, plans.lists, slack, log_dir, log, under_test)

    def run_clicks(slack: FakeSlack) -> list[Row]:
        with LoadProcess() as load:
            return clicks.run(kind, plans.clicks, slack, load, log_dir, log, under_test)

    def run_sweep(slack: FakeSlack) -> list[Row]:
        return sweep.run(kind, plans.sweep, slack, log_dir, log, under_test)

    def run_actions(slack: FakeSlack) -> list[Row]:
        return actions.run(kind, plans.actions, slack, log_dir, log, under_test)

    def run_tiers(_slack: FakeSlack) -> list[Row]:
        # A fake Slack of its own per app, enforcing Slack's tiers (their windows start empty).
        return tiers.run(kind, plans.tiers, log_dir, log, under_test)

    return {
        "footprint": run_footprint,
        "lists": run_lists,
        "clicks": run_clicks,
        "sweep": run_sweep,
        "actions": run_actions,
        "tiers": run_tiers,
    }


def _checkout() -> dict[str, object]:
    """This checkout's commit, and the files of the app under test changed since (others may be
    editing them while a run goes on: the figures are of the tree as it was)."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", *argv], cwd=apps.ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout

    commit = git("rev-parse", "HEAD").strip()
    if not commit:  # an export (git archive): the commit it was made from, if written beside
        written = apps.ROOT / "COMMIT"
        exported = written.read_text().strip() if written.exists() else None
        return {"commit": exported, "tree": str(apps.ROOT)}
    changed = git("status", "--porcelain", "--", "bot", "orders_core").splitlines()
    return {"commit": commit, "changed": changed}


if __name__ == "__main__":
    raise SystemExit(main())
