"""The rollups: tables of counts the stream keeps beside the events, which the report's
queries read instead of the events.

- `player_sessions`: one row per received day, player, session and client day, with the
  counts, revenue and first/last times the per-player queries need.
- `item_days`: one row per received day, load run, client day, event type and item, with
  the events, purchases and revenue the per-day queries need (a few hundred rows where
  the events are millions).
- `players`: one row per load run and player over the whole of player_sessions' life
  (a `Lifetime`), with the player's days of play and a value per day in lists
  (`DayList`): table care folds player_sessions' rows into it, so the per-player and
  per-day queries read a row per player, not one per session and day, plus the rows
  landed since the last fold.
- `sessions`: one row per load run, player and session (a `Lifetime` of player_sessions
  too, with its first and last times), so session_lengths reads a session's length from
  one row instead of grouping player_sessions by session.

In: rows of the events table (or a micro-batch's valid events). Out: SQL expressions, one
definition per rollup read three ways: grouping events into rollup rows (the stream, per
micro-batch; the query benchmark's writer; the unit tests on DuckDB), and merging rollup
rows of the same key into one (table care, for the received days that are over). Every
aggregate is a count, sum, min or max, so rows of one key merge into what one pass over
their events gives, and a query over a rollup groups again as it would over events. The
expressions are plain SQL that Spark, DuckDB and Trino read alike. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # logical type, as the contract writes them (stream/transform.py's spark_type)
    of_events: str  # its value over events (a key: a row expression; else an aggregate)
    merged: str = ""  # an aggregate's value over rollup rows of one key


@dataclass(frozen=True)
class Rollup:
    """A rollup's key and measures. A micro-batch writes a row per key it holds; rows of one
    key from several batches are merged by table care once their received day is over
    (stream/maintain.py)."""

    key: tuple[Column, ...]
    measures: tuple[Column, ...]
    of_run: str  # the condition a load run's rows meet, `{run}` its id (verify; query.named)
    # Its rows carry LANDED, the stream's sequence number of the micro-batch that wrote
    # them, so a `Lifetime` folded from it knows which rows it holds.
    landed: bool = False

    def table_columns(self) -> list[tuple[str, str]]:
        """(name, logical type) of every column of the rollup table."""
        landed = [(LANDED, "long")] if self.landed else []
        return [(c.name, c.kind) for c in self.key + self.measures] + landed

    def grouping_sql(self, source: str, landed: int = 0) -> str:
        """The rollup rows of the events in `source` (a table or view); `landed`: the
        micro-batch's sequence number, where the rows carry one."""
        keys = ", ".join(f"{c.of_events} as {c.name}" for c in self.key)
        measures = ", ".join(f"{c.of_events} as {c.name}" for c in self.measures)
        seq = f", cast({int(landed)} as bigint) as {LANDED}" if self.landed else ""
        return f"select {keys}, {measures}{seq} from {source} group by {', '.join(c.of_events for c in self.key)}"

    def merging_sql(self, source: str) -> str:
        """The rows of `source` (rollup rows), one per key (landed: the latest of them)."""
        keys = ", ".join(c.name for c in self.key)
        measures = ", ".join(f"{c.merged} as {c.name}" for c in self.measures)
        seq = f", max({LANDED}) as {LANDED}" if self.landed else ""
        return f"select {keys}, {measures}{seq} from {source} group by {keys}"


# A rollup row's micro-batch sequence number: grows with every micro-batch the stream
# writes, across restarts and a new checkpoint (stream/writer.py `landed_base`). Never
# null: rows written before the column existed get 0 when it is added (stream/catalog.py).
LANDED = "landed"
THROUGH = "through"  # a Lifetime's rows: they hold the rollup's rows landed up to this


@dataclass(frozen=True)
class DayList:
    """A list a `Lifetime` row keeps per day of play, in the order of `days`: the value of
    one day over the rollup's rows of that key and day (`of_rows`), and how days' values
    from two folds of the same day combine (`merged`)."""

    name: str
    kind: str  # the elements' logical type
    of_rows: str  # an aggregate over rollup rows of one key and day
    merged: str  # an aggregate over values of `name` of one key and day


@dataclass(frozen=True)
class Dialect:
    """The two things a fold with day lists says differently in Spark (table care) and
    DuckDB (the unit tests): each element of a held row `h`'s lists with its day, as
    `x.day` and index `x.i` (`h.<list>[x.i]`), and a list of values in day order."""

    each_day: str  # what follows `from <held> h` to give one row per element
    in_day_order: str  # an aggregate, `{value}` the value listed

    def listed(self, value: str) -> str:
        return self.in_day_order.format(value=value)


# Spark: posexplode's position is 0-based, as Spark's [] is; a sorted list of (day, value).
SPARK = Dialect(
    each_day="lateral view posexplode(h.days) x as i, day",
    in_day_order="transform(array_sort(collect_list(struct(day, {value} as v))), s -> s.v)",
)
# DuckDB: ordinality and [] are 1-based; an ordered aggregate.
DUCKDB = Dialect(
    each_day="cross join unnest(h.days) with ordinality as x (day, i)",
    in_day_order="array_agg({value} order by day)",
)

DAYS = "days"  # a Lifetime's list of the days played, ascending; its DayLists follow it


@dataclass(frozen=True)
class Lifetime:
    """A rollup's rows folded into one per `key` over the rollup's whole life, by table
    care (stream/maintain.py `fold`). Each fold merges the rollup's rows landed after the
    table's THROUGH into the rows of the keys they have, sets those rows' THROUGH to the
    latest of them, and leaves every other row as it was, in one commit: the table holds
    the rollup's rows landed up to its greatest THROUGH. A query reads the lifetime rows
    plus the rollup's rows landed after that, and groups again (queries/headline.sql): the
    same totals as over the rollup alone, from far fewer rows.

    With `day_lists`, a row also keeps its days of play (DAYS, the rollup's `day` not
    null) and a value per day in lists, so the per-day queries read a row per key, not
    one per key and day (queries/retention.sql)."""

    of: Rollup  # the rollup folded (its rows carry LANDED)
    key: tuple[Column, ...]  # over the rollup's rows
    of_run: str
    day_lists: tuple[DayList, ...] = ()
    only: tuple[Column, ...] = ()  # the rollup's measures kept (none named: all of them)

    @property
    def measures(self) -> tuple[Column, ...]:
        return self.only or self.of.measures

    def table_columns(self) -> list[tuple[str, str]]:
        lists = [(DAYS, "list<date>")] + [(d.name, f"list<{d.kind}>") for d in self.day_lists] if self.day_lists else []
        return [(c.name, c.kind) for c in self.key + self.measures] + lists + [(THROUGH, "long")]

    def folding_sql(self, held: str | None, rows: str, through: int, dialect: Dialect = SPARK) -> str:
        """The table's rows after a fold: `held` (its rows now; None: none yet) with `rows`
        (the rollup's rows landed since) merged in, one per key; the keys `rows` has get
        THROUGH `through`, the others are kept as they are."""
        keys = [c.name for c in self.key]
        names = ", ".join(c.name for c in self.measures)
        of_rows = ", ".join(f"{c.of_events} as {c.name}" for c in self.key)
        day = f", {DAY.name}" if self.day_lists else ""
        ctes = [
            f"fresh as (select {of_rows}{day}, {names} from {rows})",
            f"touched as (select distinct {', '.join(keys)} from fresh)",
        ]
        columns = ", ".join(n for n, _ in self.table_columns())
        both = f"select {', '.join(keys)}, {names} from fresh"
        kept = ""
        if held is not None:
            same = " and ".join(f"t.{k} is not distinct from h.{k}" for k in keys)
            ctes.append(
                f"held_touched as (select h.* from {held} h where exists (select 1 from touched t where {same}))"
            )
            both = f"select {', '.join(keys)}, {names} from held_touched union all {both}"
            kept = f" union all select {columns} from {held} h where not exists (select 1 from touched t where {same})"
        measures = ", ".join(f"{c.merged} as {c.name}" for c in self.measures)
        ctes.append(f"scalars as (select {', '.join(keys)}, {measures} from ({both}) as b group by {', '.join(keys)})")
        if not self.day_lists:
            merged = f"select *, cast({int(through)} as bigint) as {THROUGH} from scalars"
        else:
            ctes += self._lists_ctes(keys, held is not None, dialect)
            on = " and ".join(f"l.{k} is not distinct from s.{k}" for k in keys)
            lists = ", ".join(f"l.{n}" for n in [DAYS, *(d.name for d in self.day_lists)])
            merged = (
                f"select s.*, {lists}, cast({int(through)} as bigint) as {THROUGH} "
                f"from scalars s left join lists l on {on}"
            )
        return f"with {', '.join(ctes)} select {columns} from ({merged}) as m{kept}"

    def _lists_ctes(self, keys: list[str], held: bool, dialect: Dialect) -> list[str]:
        k = ", ".join(keys)
        values = ", ".join(f"{d.of_rows} as {d.name}" for d in self.day_lists)
        parts = f"select {k}, day, {values} from fresh where day is not null group by {k}, day"
        if held:
            elements = ", ".join(f"h.{d.name}[x.i] as {d.name}" for d in self.day_lists)
            keyed = ", ".join(f"h.{c}" for c in keys)
            parts = f"select {keyed}, x.day, {elements} from held_touched h {dialect.each_day} union all {parts}"
        merged = ", ".join(f"{d.merged} as {d.name}" for d in self.day_lists)
        listed = ", ".join(f"{dialect.listed(d.name)} as {d.name}" for d in self.day_lists)
        return [
            f"by_day as (select {k}, day, {merged} from ({parts}) as d group by {k}, day)",
            f"lists as (select {k}, {dialect.listed('day')} as {DAYS}, {listed} from by_day group by {k})",
        ]


# A load run's id as `gamepipe load` makes it (gamepipe/load/game.py `run_id`, e.g.
# 20261128-090422-s42); its sessions' ids begin with it and a dash. No backslash: the
# pattern is a string literal in Spark's SQL, which reads backslashes as escapes.
RUN_FORM = "[0-9]{8}-[0-9]{6}-s[0-9]+"
# RUN of a row with a session id, in a query on Trino or DuckDB too (Trino's regexp_extract
# gives null where Spark's gives ''): filled into queries/ as `{run_of_session}`.
RUN_OF_SESSION = "coalesce(regexp_extract(session_id, '^(" + RUN_FORM + ")-', 1), '')"
# A load run's rows of a table with session ids (events, routed tables, player_sessions).
OF_RUN_BY_SESSION = "session_id like '{run}-%'"

RECEIVED_DAY = Column("received_day", "date", "cast(received_at as date)")  # the partition
DAY = Column("day", "date", "cast(client_ts as date)")  # game time; null when the client sent none
EVENT_COUNT = Column("event_count", "long", "count(*)", "sum(event_count)")
PURCHASE_COUNT = Column("purchase_count", "long", "count(price)", "sum(purchase_count)")
# null when no event of the key has a price, as sum(price) over its events is
REVENUE = Column(
    "revenue", "decimal(18,2)", "cast(sum(price) as decimal(18, 2))", "cast(sum(revenue) as decimal(18, 2))"
)

# The load run whose session it was ('' for every other session), so a run's report and
# `verify` find its rows in a table without session ids as they do by session_id elsewhere
RUN = Column("run", "string", f"regexp_extract(session_id, '^({RUN_FORM})-', 1)")

_WHEN_SWORD = "case when event_type = 'purchase_sword'"
_WHEN_JOIN = "case when event_type = 'join_guild'"
_WHEN_VISIT = "case when event_type = 'default'"
_WHEN_PAID = "case when price is not null"
PLAYER_ID = Column("player_id", "string", "player_id")
SESSION_ID = Column("session_id", "string", "session_id")
FIRST_AT = Column("first_at", "timestamp", "min(client_ts)", "min(first_at)")
LAST_AT = Column("last_at", "timestamp", "max(client_ts)", "max(last_at)")
PLAYER_SESSIONS = Rollup(
    key=(RECEIVED_DAY, PLAYER_ID, SESSION_ID, DAY),
    measures=(
        EVENT_COUNT,
        PURCHASE_COUNT,
        REVENUE,
        Column("sword_count", "long", f"count({_WHEN_SWORD} then 1 end)", "sum(sword_count)"),
        Column("join_count", "long", f"count({_WHEN_JOIN} then 1 end)", "sum(join_count)"),
        FIRST_AT,
        LAST_AT,
        Column("first_visit_at", "timestamp", f"min({_WHEN_VISIT} then client_ts end)", "min(first_visit_at)"),
        Column("first_purchase_at", "timestamp", f"min({_WHEN_PAID} then client_ts end)", "min(first_purchase_at)"),
        Column("last_join_at", "timestamp", f"max({_WHEN_JOIN} then client_ts end)", "max(last_join_at)"),
    ),
    of_run=OF_RUN_BY_SESSION,
    landed=True,
)

ITEM_DAYS = Rollup(
    key=(
        RECEIVED_DAY,
        RUN,
        DAY,
        Column("event_type", "string", "event_type"),
        # what was bought: the sword, potion or shield type (null for other events)
        Column("item", "string", "coalesce(sword_type, potion_type, shield_type)"),
    ),
    measures=(EVENT_COUNT, PURCHASE_COUNT, REVENUE),
    of_run="run = '{run}'",
)

PLAYERS = Lifetime(
    of=PLAYER_SESSIONS,
    key=(RUN, PLAYER_ID),
    of_run="run = '{run}'",
    day_lists=(
        # 0 on a day without a purchase (sum(revenue) is null there): Spark's collect_list drops nulls
        DayList(
            "day_revenues", "decimal(18,2)", "coalesce(sum(revenue), 0)", "cast(sum(day_revenues) as decimal(18, 2))"
        ),
        DayList("day_swords", "long", "sum(sword_count)", "sum(day_swords)"),
        DayList("day_joins", "long", "sum(join_count)", "sum(day_joins)"),
    ),
)

# A session's first and last times over all its days (null: its events had no client_ts),
# with its events and revenue, which `verify` counts as it does players'.
SESSIONS = Lifetime(
    of=PLAYER_SESSIONS,
    key=(RUN, PLAYER_ID, SESSION_ID),
    of_run="run = '{run}'",
    only=(EVENT_COUNT, REVENUE, FIRST_AT, LAST_AT),
)
