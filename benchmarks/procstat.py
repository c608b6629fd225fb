"""Memory of a process and facts about the machine, read from /proc (Linux)."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _status_kb(field: str, pid: int | str = "self") -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return 0.0


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory now, in MiB."""
    return _status_kb("VmRSS", pid) / 1024


def peak_rss_mb(pid: int | str = "self") -> float:
    """The highest resident memory so far, in MiB."""
    return _status_kb("VmHWM", pid) / 1024


def reset_peak_rss() -> bool:
    """Start this process's high-water mark of resident memory afresh (`peak_rss_mb` then tells
    the peak since now, kept by the kernel: nothing to sample); False where Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python and the date: what a reader needs to weigh the figures."""
    memory_kb = 0.0
    cpu = platform.processor()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = float(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time a process has used so far, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a server's forked workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and int(fields[1]) == pid:  # the parent pid is field 4, the 2nd after ")"
            found.append(int(stat.parent.name))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children (a server's forked processes)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid))


def uss_mb(pid: int | str = "self") -> float:
    """Memory only this process maps (its private pages, clean or dirty), in MiB."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    kb = 0.0
    for line in text.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            kb += float(line.split()[1])
    return kb / 1024


def tree_memory_mb(pid: int) -> tuple[float, list[float]]:
    """What a process and its children (gunicorn's master and workers) take together, MiB: the
    largest one's RSS, plus the private memory of each other one (the pages the master shares
    with its workers after the fork are counted once); and the RSS of each, largest first."""
    pids = [pid, *children(pid)]
    rss = sorted(((rss_mb(p), p) for p in pids), reverse=True)
    together = rss[0][0] + sum(uss_mb(p) for _, p in rss[1:])
    return together, [round(r, 1) for r, _ in rss]
