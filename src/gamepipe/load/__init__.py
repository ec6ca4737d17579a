"""Traffic with Apache Bench: the seed's scenario (`seed`), a game population (`game`)."""

from gamepipe.load.ab import AbStats, ab_path, parse_ab, run_ab
from gamepipe.load.seed import ROUTE_EVENT, SEED_PLAN, SEED_REQUESTS, AbRun, accepted_by_type, run_seed

__all__ = [
    "ROUTE_EVENT", "SEED_PLAN", "SEED_REQUESTS", "AbRun", "AbStats",
    "ab_path", "accepted_by_type", "parse_ab", "run_ab", "run_seed",
]  # fmt: skip
