"""The seed's scenario end to end: ab -> API -> Kafka -> Spark -> Iceberg -> Trino.

Counts are taken as differences (before/after), so data already in the tables from an
earlier demo does not matter; nothing else writes to the stack during the test.
"""

from __future__ import annotations

from collections import Counter

import pytest

from gamepipe import load, query
from gamepipe.config import Settings
from gamepipe.landing import wait_landed

pytestmark = pytest.mark.stack


def host_counts(settings: Settings, table: str) -> Counter[str]:
    rows = query.run(settings, f"select host, count(*) as count from {table} group by host").rows
    return Counter({host: n for host, n in rows})


def test_seed_scenario_lands_what_ab_got_answered(stack: Settings) -> None:
    routes = stack.stream.routes
    before = {table: query.count(stack, table) for table in routes.values()}
    hosts_before = host_counts(stack, "join_guilds")

    runs = load.run_seed(stack)
    accepted = load.accepted_by_type(runs)
    assert sum(r.stats.ok for r in runs) == sum(r.requests for r in runs), "every seed request is valid"

    expected = {table: before[table] + accepted[event_type] for event_type, table in routes.items()}
    landings = wait_landed(stack, expected, timeout_s=180)
    assert {x.table: x.landed for x in landings} == expected, "no more, no fewer than ab's 2xx"

    # The seed's Presto queries, unchanged.
    tables = {row[0] for row in query.run(stack, "show tables").rows}
    assert set(routes.values()) <= tables
    columns = [row[0] for row in query.run(stack, "describe sword_purchases").rows]
    assert columns[:6] == ["raw_event", "timestamp", "accept", "host", "user_agent", "event_type"]
    joined: Counter[str] = Counter()
    for r in runs:
        if r.event_type == "join_guild":
            joined[r.host] += r.stats.ok
    assert joined == Counter({"user1.comcast.com": 20}), "the seed joins guilds twice, ab -n 10, from user1"
    assert host_counts(stack, "join_guilds") - hosts_before == joined
