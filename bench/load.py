"""The machine's load while a benchmark runs, so a reader can tell a regression from a busy
neighbour: load averages before and after, and the CPUs kept busy meanwhile by this
benchmark's own processes, by everything else, and by the hypervisor (steal).

Linux only (/proc); elsewhere only the load averages and the CPU count are given.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")


@dataclass(frozen=True)
class CpuTicks:
    """Clock ticks since boot, summed over every CPU, from the first line of /proc/stat."""

    cpus: int
    total: int
    idle: int  # idle and waiting for I/O
    steal: int  # wanted a CPU, but the hypervisor ran another machine

    @property
    def busy(self) -> int:
        return self.total - self.idle - self.steal


def cpu_ticks() -> CpuTicks | None:
    """The machine's CPU ticks now, or None without /proc."""
    try:
        lines = (PROC / "stat").read_text().splitlines()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal (guest time is already in user).
    fields = [int(v) for v in lines[0].split()[1:9]]
    cpus = sum(1 for line in lines[1:] if line.startswith("cpu"))
    return CpuTicks(cpus, sum(fields), fields[3] + fields[4], fields[7])


def _processes() -> dict[int, tuple[int, int]]:
    """Every process: pid -> (parent pid, its CPU ticks and those of the children it reaped)."""
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The name, in parentheses, may hold spaces: the fields that matter follow it.
        rest = text.rpartition(")")[2].split()
        # state ppid ... utime(14) stime(15) cutime(16) cstime(17), counted from pid = 1.
        found[int(entry.name)] = (int(rest[1]), sum(int(v) for v in rest[11:15]))
    return found


def own_ticks(roots: Iterable[int]) -> int:
    """CPU ticks of `roots` and all their descendants, with the children they reaped."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    todo = [pid for pid in roots if pid in procs]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, ()))
    return sum(procs[pid][1] for pid in seen)


def _cpus(ticks: int, start: CpuTicks, end: CpuTicks) -> float:
    """`ticks` as CPUs kept busy on average over the interval."""
    per_cpu = (end.total - start.total) / max(end.cpus, 1)
    return round(ticks / per_cpu, 2) if per_cpu > 0 else 0.0


def _loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


@contextlib.contextmanager
def watched(extra_roots: Callable[[], Iterable[int]] = tuple) -> Iterator[dict[str, Any]]:
    """Yield a dict filled, once the block ends, with the machine's load during it.

    `extra_roots` names processes of this benchmark that are not its descendants (a server
    that detached); this process and its descendants are always counted as its own.
    """
    out: dict[str, Any] = {"cpus": os.cpu_count(), "loadavg_before": _loadavg()}
    started, start = time.monotonic(), cpu_ticks()
    own_start = own_ticks([os.getpid(), *extra_roots()]) if start else 0
    try:
        yield out
    finally:
        end = cpu_ticks()
        out["seconds"] = round(time.monotonic() - started, 1)
        out["loadavg_after"] = _loadavg()
        if start is not None and end is not None:
            own = own_ticks([os.getpid(), *extra_roots()]) - own_start
            busy, steal = end.busy - start.busy, end.steal - start.steal
            out["cpus"] = end.cpus
            out["busy_cpus"] = _cpus(busy, start, end)
            out["own_cpus"] = _cpus(own, start, end)
            out["others_cpus"] = _cpus(max(busy - own, 0), start, end)
            out["steal_cpus"] = _cpus(steal, start, end)


def describe(load: dict[str, Any]) -> str:
    """One line: what else kept the machine busy, and the 1-minute load average."""
    before, after = load.get("loadavg_before") or [0.0], load.get("loadavg_after") or [0.0]
    avg = f"load avg {before[0]:.1f} -> {after[0]:.1f}"
    if "others_cpus" not in load:
        return f"{avg} ({load.get('cpus')} CPUs)"
    return (
        f"others {load['others_cpus']:.2f} of {load['cpus']} CPUs (this run "
        f"{load['own_cpus']:.2f}, steal {load['steal_cpus']:.2f}), {avg}"
    )


def others_span(loads: Iterable[dict[str, Any]]) -> str:
    """Across runs: the least and most CPU other processes took, e.g. `0.40..1.10 of 2`."""
    found = [load for load in loads if "others_cpus" in load]
    if not found:
        return ""
    least = min(load["others_cpus"] for load in found)
    most = max(load["others_cpus"] for load in found)
    shown = f"{least:.2f}" if least == most else f"{least:.2f}..{most:.2f}"
    return f"{shown} of {found[0]['cpus']}"
