"""The rollup `player_sessions`: one row per received day, player, session and client day,
with the counts, revenue and first/last times the report's queries need.

In: rows of the events table (or a micro-batch's valid events). Out: SQL expressions, one
definition read three ways: grouping events into rollup rows (the stream, per micro-batch;
the query benchmark's writer; the unit tests on DuckDB), and merging rollup rows of the
same key into one (table care, for the received days that are over). Every aggregate is a
count, sum, min or max, so rows of one key merge into what one pass over their events
gives, and a query over the rollup groups again as it would over events. The
expressions are plain SQL that Spark and DuckDB read alike. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # logical type, as the contract writes them (stream/transform.py's spark_type)
    of_events: str  # its value over events (a key: a row expression; else an aggregate)
    merged: str = ""  # an aggregate's value over rollup rows of one key


# The key. A micro-batch writes a row per key it holds; rows of one key from several
# batches are merged by table care once their received day is over (stream/maintain.py).
KEY = (
    Column("received_day", "date", "cast(received_at as date)"),
    Column("player_id", "string", "player_id"),
    Column("session_id", "string", "session_id"),
    Column("day", "date", "cast(client_ts as date)"),  # game time; null when the client sent none
)
_WHEN_SWORD = "case when event_type = 'purchase_sword'"
_WHEN_JOIN = "case when event_type = 'join_guild'"
_WHEN_VISIT = "case when event_type = 'default'"
_WHEN_PAID = "case when price is not null"
MEASURES = (
    Column("event_count", "long", "count(*)", "sum(event_count)"),
    Column("purchase_count", "long", "count(price)", "sum(purchase_count)"),
    # null when no event of the key has a price, as sum(price) over its events is
    Column("revenue", "decimal(18,2)", "cast(sum(price) as decimal(18, 2))", "cast(sum(revenue) as decimal(18, 2))"),
    Column("sword_count", "long", f"count({_WHEN_SWORD} then 1 end)", "sum(sword_count)"),
    Column("join_count", "long", f"count({_WHEN_JOIN} then 1 end)", "sum(join_count)"),
    Column("first_at", "timestamp", "min(client_ts)", "min(first_at)"),
    Column("last_at", "timestamp", "max(client_ts)", "max(last_at)"),
    Column("first_visit_at", "timestamp", f"min({_WHEN_VISIT} then client_ts end)", "min(first_visit_at)"),
    Column("first_purchase_at", "timestamp", f"min({_WHEN_PAID} then client_ts end)", "min(first_purchase_at)"),
    Column("last_join_at", "timestamp", f"max({_WHEN_JOIN} then client_ts end)", "max(last_join_at)"),
)
COLUMNS = KEY + MEASURES


def table_columns() -> list[tuple[str, str]]:
    """(name, logical type) of every column of the rollup table."""
    return [(c.name, c.kind) for c in COLUMNS]


def grouping_sql(source: str) -> str:
    """The rollup rows of the events in `source` (a table or view)."""
    keys = ", ".join(f"{c.of_events} as {c.name}" for c in KEY)
    measures = ", ".join(f"{c.of_events} as {c.name}" for c in MEASURES)
    return f"select {keys}, {measures} from {source} group by {', '.join(c.of_events for c in KEY)}"


def merging_sql(source: str) -> str:
    """The rows of `source` (rollup rows), one per key."""
    keys = ", ".join(c.name for c in KEY)
    measures = ", ".join(f"{c.merged} as {c.name}" for c in MEASURES)
    return f"select {keys}, {measures} from {source} group by {keys}"
