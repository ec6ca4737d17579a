"""What the pipeline costs: CPU seconds per stage of the stack while a benchmark runs,
from the kernel's own accounting of each process (user + system time, psutil).

Each of the stack's services is a process tree (supervisord's child and its
descendants). The stream's tree holds three stages: its Python driver, Spark's JVM, and
table care (`gamepipe maintain`, a child started every few minutes, with a JVM of its
own). Processes come and go (table care's rounds), so the trees are sampled every 0.5 s
and each process counts what it spent between the first and the last time it was seen:
a process seen at the start counts from there, one born later from zero. A process
that lives less than a sampling interval is missed; none of the stack's do.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.common import BenchFailed
from gamepipe.config import Settings
from gamepipe.stack.manager import services

SAMPLE_S = 0.5
BENCH = "the benchmark itself"  # the load generator and the probes' clients (DuckDB runs in it)


def stage(service: str, name: str, chain: Sequence[str]) -> str:
    """The stage a process of `service` belongs to, from its name and the command lines
    of itself and its ancestors up to the service's root (`chain`)."""
    if service != "stream":
        return service
    if any(" maintain" in cmdline for cmdline in chain):
        return "table care"
    return "stream JVM" if name == "java" else "stream driver"


@dataclass
class CpuAccount:
    """CPU seconds per stage from `start` to `stop` (`seconds()`), and the wall time."""

    settings: Settings
    roots: dict[str, int] = field(default_factory=dict)
    first: dict[tuple[int, float], float] = field(default_factory=dict)  # (pid, born) -> CPU s when first seen
    last: dict[tuple[int, float], float] = field(default_factory=dict)  # ... when last seen
    stages: dict[tuple[int, float], str] = field(default_factory=dict)
    began: float = 0.0
    wall_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, roots: dict[str, int] | None = None) -> None:
        """Account for the stack's services (or the process trees of `roots`: name -> pid)."""
        if roots is None:
            pids = {s.name: s.pid() for s in services(self.settings)}
            missing = sorted(name for name, pid in pids.items() if pid is None)
            if missing:
                raise BenchFailed(f"bench: {missing} not running; start the stack first (`gamepipe up`)")
            roots = {name: pid for name, pid in pids.items() if pid is not None}
        self.roots = roots
        self.began = time.monotonic()
        self._sample(at_start=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample(at_start=False)

    def _sample(self, at_start: bool) -> None:
        for service, pid in self.roots.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    self._see(service, proc, at_start)
        self._see(BENCH, psutil.Process(), at_start)

    def _see(self, service: str, proc: psutil.Process, at_start: bool) -> None:
        try:
            key = (proc.pid, proc.create_time())
            times = proc.cpu_times()
            if key not in self.stages:
                chain = [proc.cmdline()]
                if service != BENCH and proc.pid != self.roots[service]:
                    for parent in proc.parents():  # up to the service's root, not beyond
                        if parent.pid == self.roots[service]:
                            break
                        chain.append(parent.cmdline())
                self.stages[key] = stage(service, proc.name(), [" ".join(c) for c in chain])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return
        spent = times.user + times.system
        self.first.setdefault(key, spent if at_start else 0.0)
        self.last[key] = spent

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample(at_start=False)
        self.wall_s = time.monotonic() - self.began

    def seconds(self) -> dict[str, float]:
        """CPU seconds per stage over the run, largest first."""
        out: dict[str, float] = {}
        for key, spent in self.last.items():
            out[self.stages[key]] = out.get(self.stages[key], 0.0) + spent - self.first[key]
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def result(self, events: int) -> dict[str, Any]:
        """What the cost table shows: per stage, CPU s, CPU s per 1,000 events, cores busy."""
        spent = self.seconds()
        return {
            "events": events,
            "wall_s": self.wall_s,
            "cpu_s": spent,
            "cpu_s_per_1000_events": {k: v * 1000 / events for k, v in spent.items()} if events else {},
            "cores": {k: v / self.wall_s for k, v in spent.items()} if self.wall_s else {},
        }
