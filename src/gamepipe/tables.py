"""The tables the stream writes: one list, from which everything else derives.

In: `stream.routes` (event type -> table), `stream.all_events_table`,
`stream.rollup_table`, `stream.item_rollup_table`, `stream.player_table`,
`stream.session_table`, `stream.rejected_table`. Out: `Table`s, in that order: each
one's name, role, the event type a routed table holds or the rollup a rollup table
keeps, its partition column and (given the contract) its columns. The player and
session tables are table care's to write (it folds player_sessions into them), not the
stream's; they are listed here so the DDL, care, `verify` and the engines find them
where they find the others.
The stream's DDL, routing and row counts, table care, `status`, `verify`, the demo and
the query engines all read this list; none enumerates the tables itself. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from gamepipe.events import REJECTED_COLUMNS, Contract
from gamepipe.rollup import ITEM_DAYS, PLAYER_SESSIONS, PLAYERS, SESSIONS, Lifetime, Rollup

if TYPE_CHECKING:
    from gamepipe.config import StreamSettings


class Role(StrEnum):
    ROUTED = "routed"  # the valid events of one type
    ALL_EVENTS = "all events"  # every valid event
    ROLLUP = "rollup"  # every valid event, counted per the key of its rollup (gamepipe/rollup.py)
    LIFETIME = "lifetime"  # a rollup folded into a row per key by table care, not by the stream
    REJECTED = "rejected"  # the Kafka records that are not valid events (dead letters)


@dataclass(frozen=True)
class Table:
    name: str
    role: Role
    event_type: str | None = None  # the type a ROUTED table holds
    rollup: Rollup | None = None  # the rollup a ROLLUP table keeps
    lifetime: Lifetime | None = None  # what a LIFETIME table holds
    folds: str | None = None  # the rollup table a LIFETIME table is folded from

    @property
    def day_column(self) -> str | None:
        """The column the table is partitioned on, by day (None: not partitioned)."""
        if self.role is Role.LIFETIME:
            return None
        return {Role.REJECTED: "timestamp", Role.ROLLUP: "received_day"}.get(self.role, "received_at")

    def holds(self, kind: str | None) -> bool:
        """Whether a row of event type `kind` lands here (None: a rejected record)."""
        if self.role is Role.ROUTED:
            return kind == self.event_type
        if self.role in (Role.ALL_EVENTS, Role.ROLLUP):
            return kind is not None
        if self.role is Role.LIFETIME:
            return False  # table care writes it
        return kind is None

    def columns(self, contract: Contract) -> list[tuple[str, str]]:
        """(name, logical type) of every column, from the contract."""
        if self.role is Role.REJECTED:
            return list(REJECTED_COLUMNS)
        if self.rollup is not None:
            return self.rollup.table_columns()
        if self.lifetime is not None:
            return self.lifetime.table_columns()
        return contract.table_columns(self.event_type)


def stream_tables(stream: StreamSettings) -> tuple[Table, ...]:
    """Routed tables (in `routes` order), then all events, the rollups, the player and
    session tables (with player_sessions), dead letters, each if set."""
    out = [Table(name, Role.ROUTED, event_type) for event_type, name in stream.routes.items()]
    if stream.all_events_table:
        out.append(Table(stream.all_events_table, Role.ALL_EVENTS))
    if stream.rollup_table:
        out.append(Table(stream.rollup_table, Role.ROLLUP, rollup=PLAYER_SESSIONS))
    if stream.item_rollup_table:
        out.append(Table(stream.item_rollup_table, Role.ROLLUP, rollup=ITEM_DAYS))
    if stream.rollup_table and stream.player_table:
        out.append(Table(stream.player_table, Role.LIFETIME, lifetime=PLAYERS, folds=stream.rollup_table))
    if stream.rollup_table and stream.session_table:
        out.append(Table(stream.session_table, Role.LIFETIME, lifetime=SESSIONS, folds=stream.rollup_table))
    if stream.rejected_table:
        out.append(Table(stream.rejected_table, Role.REJECTED))
    return tuple(out)


def rows_per_table(tables: tuple[Table, ...], by_kind: dict[str | None, int]) -> dict[str, int]:
    """How many rows each table gets from rows counted per event type (None: rejected)."""
    return {t.name: sum(n for kind, n in by_kind.items() if t.holds(kind)) for t in tables}
