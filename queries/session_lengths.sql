-- How long sessions last: sessions by whole seconds from their first to their last event
-- (a histogram, not a row per session: 1.16 M sessions at 10 M events). Milliseconds
-- first, as both engines count them alike (DuckDB's date_diff counts second boundaries
-- crossed, Trino's whole seconds).
-- From the table sessions (a row per load run, player and session: player_sessions folded
-- by table care, gamepipe/rollup.py SESSIONS) and the player_sessions rows landed since its
-- fold. Every session counts once in its row's bucket; a session those rows have is taken
-- out of that bucket again and counted in the bucket of its row and theirs grouped. So the
-- table's rows are read for their first and last times, and only the sessions touched
-- since the fold are grouped (docs/decisions.md).
with landed_since as (
  select player_id, session_id, first_at, last_at
  from player_sessions
  where {run_filter} and day is not null and landed > (select coalesce(max(through), -1) from sessions)
),
touched as (
  -- its length now, and as its row in sessions has it (null: no row, or no client time)
  select
    date_diff('millisecond', min(first_at), max(last_at)) as now_ms,
    date_diff('millisecond', min(case when held then first_at end), max(case when held then last_at end)) as was_ms
  from (
    -- by session id alone, a superset of the rows touched (one regrouped for nothing
    -- keeps its length): a semi-join on one column, which both engines run cheaply
    select player_id, session_id, first_at, last_at, true as held
    from sessions
    where {run_match} and session_id in (select session_id from landed_since)
    union all
    -- `in` matches no null: the rows without a session id, all of them (few; the engines
    -- skip the files whose null counts say they have none)
    select player_id, session_id, first_at, last_at, true from sessions where {run_match} and session_id is null
    union all
    select player_id, session_id, first_at, last_at, false from landed_since
  ) as both_
  group by player_id, session_id
),
lengths as (
  select date_diff('millisecond', first_at, last_at) as length_ms, 1 as n
  from sessions
  where {run_match}
  union all
  -- the touched sessions in their bucket now (+1) and out of their row's (-1)
  select case when n = 1 then now_ms else was_ms end, n
  from touched cross join (values (1), (-1)) as sign (n)
)
-- Whole seconds by integer steps: Trino rounds a decimal quotient, DuckDB's `/` gives a double.
-- A session whose events all lack a client time has no length, and no bucket.
select cast((length_ms - length_ms % 1000) / 1000 as bigint) as length_s, cast(sum(n) as bigint) as sessions
from lengths
where length_ms is not null
group by 1
having sum(n) > 0
order by 1
