"""Steady traffic for the stream benchmarks: batches POSTed at a fixed event rate.

Every event carries the benchmark's session id (so its rows can be found) and no
event id (the API assigns one, and stamps `received_at` when it accepts the event).
Senders are threads with keep-alive connections; each sends one batch per tick, so
arrivals are spread over the second instead of one burst.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
import orjson

from gamepipe.config import Settings


@dataclass
class Traffic:
    settings: Settings
    session_id: str
    events_per_s: int
    batch: int = 100
    senders: int = 4
    accepted: int = 0
    failed: int = 0
    behind_s: float = 0.0  # the most any sender fell behind its schedule
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self) -> bytes:
        events = [
            {
                "event_type": "purchase_sword",
                "session_id": self.session_id,
                "player_id": f"bench-{i % 97}",
                "sword_type": "katana",
                "price": 9.99,
                "currency": "USD",
            }
            for i in range(self.batch)
        ]
        return orjson.dumps({"events": events})

    def start(self) -> None:
        body = self.body()
        interval = self.batch * self.senders / self.events_per_s  # seconds between one sender's batches
        url = f"http://{self.settings.api.host}:{self.settings.api.port}/v1/events"
        for n in range(self.senders):
            offset = interval * n / self.senders
            thread = threading.Thread(target=self._send, args=(url, body, interval, offset), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _send(self, url: str, body: bytes, interval: float, offset: float) -> None:
        headers = {"content-type": "application/json"}
        with httpx.Client(timeout=30) as client:
            due = time.monotonic() + offset
            while not self._stop.is_set():
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                try:
                    ok = client.post(url, content=body, headers=headers).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with self._lock:
                    if ok:
                        self.accepted += self.batch
                    else:
                        self.failed += self.batch
                    self.behind_s = max(self.behind_s, time.monotonic() - due - interval)
                due += interval

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def run_for(self, seconds: float) -> None:
        self.start()
        try:
            time.sleep(seconds)
        finally:
            self.stop()
