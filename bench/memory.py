"""Memory: the peak RSS of each service of the stack (its whole process group) and of
the stack as a whole, sampled every 0.5 s while steady traffic flows through it and the
report's queries run on Trino. Also lists each JVM's configured heap."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Any

import psutil

from bench.common import BenchFailed, save
from bench.traffic import Traffic
from gamepipe.config import Settings
from gamepipe.landing import wait_landed
from gamepipe.query import Engine
from gamepipe.stack.manager import services

GIB = 1024**3


def group_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes (0 if it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


class PeakRss:
    """Samples every 0.5 s, from `start` to `stop`, the RSS of each of the stack's
    services (its process group) and of all of them together; keeps the peaks."""

    def __init__(self, settings: Settings) -> None:
        self.pids = {s.name: s.pid() for s in services(settings)}
        missing = [name for name, pid in self.pids.items() if pid is None]
        if missing:
            raise BenchFailed(f"bench memory: {missing} not running; start the stack first (`gamepipe up`)")
        self.at_rest = self._now()
        self.peaks = dict.fromkeys(self.pids, 0)
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _now(self) -> dict[str, int]:
        return {name: group_rss(pid) for name, pid in self.pids.items() if pid}

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            now = self._now()
            for name, rss in now.items():
                self.peaks[name] = max(self.peaks[name], rss)
            self.peak_total = max(self.peak_total, sum(now.values()))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run(settings: Settings, seconds: float = 60, rate: int = 5000) -> None:
    rss = PeakRss(settings)
    rss.start()
    traffic = Traffic(settings, f"memory-{uuid.uuid4().hex[:6]}", rate)
    traffic.start()
    try:  # a failure stops the traffic and the sampler too: the next benchmark must not run beside them
        try:
            engine = Engine(settings, "trino")
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:  # the report's queries too: Trino's memory under use
                for q in ("headline", "top_spenders", "guild_members_vs_others"):
                    engine.named(q)
        finally:
            traffic.stop()
        session = f"session_id = '{traffic.session_id}'"
        wait_landed(settings, dict.fromkeys(("sword_purchases", "events"), traffic.accepted), session, timeout_s=600)
    finally:
        rss.stop()
    heaps = {"kafka": settings.kafka.heap, "trino": settings.trino.heap, "stream": settings.stream.driver_memory}
    result: dict[str, Any] = {
        "seconds": seconds,
        "rate": rate,
        "heaps": heaps,
        "at_rest_gib": {k: v / GIB for k, v in rss.at_rest.items()},
        "peak_gib": {k: v / GIB for k, v in rss.peaks.items()},
        "peak_total_gib": rss.peak_total / GIB,
    }
    print(
        f"bench memory: stack peak {rss.peak_total / GIB:.2f} GiB; "
        + ", ".join(f"{k} {v / GIB:.2f}" for k, v in rss.peaks.items()),
        flush=True,
    )
    save(settings, "memory", result)
