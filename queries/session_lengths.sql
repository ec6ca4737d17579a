-- How long sessions last: sessions by whole seconds from their first to their last event
-- (a histogram, not a row per session: 1.16 M sessions at 10 M events). Milliseconds
-- first, as both engines count them alike (DuckDB's date_diff counts second boundaries
-- crossed, Trino's whole seconds).
with per_session as (
  select session_id, player_id, date_diff('millisecond', min(first_at), max(last_at)) as length_ms
  from player_sessions
  where {run_filter} and day is not null
  group by 1, 2
)
-- Whole seconds by integer steps: Trino rounds a decimal quotient, DuckDB's `/` gives a double.
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
select cast((length_ms - length_ms % 1000) / 1000 as bigint) as length_s, count(*) as sessions
from per_session
group by 1
order by 1
