-- How long players take to buy: players by whole minutes from their first event to their
-- first purchase (players who never bought are not counted).
with per_player as (
  select
    date_diff('millisecond', min(first_at), min(first_purchase_at)) as after_ms
  from player_sessions
  where {run_filter} and day is not null
  group by player_id
)
-- Whole minutes by integer steps, as in session_lengths.sql.
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
select cast((after_ms - after_ms % 60000) / 60000 as bigint) as minutes, count(*) as players
from per_player
where after_ms is not null
group by 1
order by 1
