"""Benchmarks of the bot against bare Bolt, raw SQL and today's main: `python -m benchmarks`.

`BENCH_APP_SOURCE=DIR` adds a second app under test: today's main, served from the source tree
at DIR as it ran in production, side by side with this checkout's app in the same run (see
README.md). The harness itself (datasets, load generator, fake Slack, report) is this
checkout's.
"""
