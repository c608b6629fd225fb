"""Benchmarks of the bot against bare Bolt and raw SQL: `python -m benchmarks` (see README.md).

`BENCH_APP_SOURCE=DIR` runs everything under test (the app processes, the query layer, the
sweep) from another source tree's `bot/` and `orders_core/`, to measure a change side by side
with this checkout's benchmarks.
"""

from __future__ import annotations

import os
import sys

APP_SOURCE = os.environ.get("BENCH_APP_SOURCE") or None
if APP_SOURCE and APP_SOURCE not in sys.path:
    # Before anything imports bot or orders_core: this process and every child it spawns.
    sys.path.insert(0, APP_SOURCE)
