"""The `seed` scenario: the seed's `generate_data.sh` loop body, once through.

Six `ab -n 10` runs from two hosts, GET on the seed's routes. Out: the runs made
(`AbRun`) and the accepted count per event type. Reads settings: api.host, api.port.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from gamepipe.config import Settings
from gamepipe.events import SEED_ROUTES
from gamepipe.load.ab import AbStats, run_ab

# route path -> event type it logs
log = logging.getLogger(__name__)

ROUTE_EVENT = {path: event_type for path, (event_type, _text) in SEED_ROUTES.items()}

# The seed's generate_data.sh, one pass: (Host header, route), each `ab -n 10`.
SEED_PLAN: tuple[tuple[str, str], ...] = (
    ("user1.comcast.com", "/"),
    ("user1.comcast.com", "/purchase_a_sword"),
    ("user1.comcast.com", "/join_guild"),
    ("user2.att.com", "/"),
    ("user2.att.com", "/purchase_a_sword"),
    ("user1.comcast.com", "/join_guild"),
)
SEED_REQUESTS = 10


@dataclass(frozen=True)
class AbRun:
    host: str
    route: str
    requests: int
    stats: AbStats

    @property
    def event_type(self) -> str:
        return ROUTE_EVENT[self.route]


def run_seed(settings: Settings) -> list[AbRun]:
    base = f"http://{settings.api.host}:{settings.api.port}"
    runs = []
    for host, route in SEED_PLAN:
        stats = run_ab(base + route, SEED_REQUESTS, headers={"Host": host})
        run = AbRun(host, route, SEED_REQUESTS, stats)
        outcome = f"{stats.ok} x 2xx, {stats.non_2xx} non-2xx, {stats.failed} failed"
        log.info("  ab -n %d -H 'Host: %s' %-18s -> %s", SEED_REQUESTS, host, route, outcome)
        runs.append(run)
    return runs


def accepted_by_type(runs: list[AbRun]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for run in runs:
        counts[run.event_type] += run.stats.ok
    return counts
