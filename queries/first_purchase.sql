-- How long players take to buy: players by whole minutes from their first event to their
-- first purchase (players who never bought are not counted). Events without a client time
-- have no part in it: their rows' times are null, which min() passes over.
-- From the table players (a row per load run and player: player_sessions folded by table care)
-- and the player_sessions rows landed since its fold, grouped again (gamepipe/rollup.py PLAYERS).
with player_rows as (
  select player_id, first_at, first_purchase_at
  from players
  where {run_match}
  union all
  select player_id, first_at, first_purchase_at
  from player_sessions
  where {run_filter} and landed > (select coalesce(max(through), -1) from players)
),
per_player as (
  select
    date_diff('millisecond', min(first_at), min(first_purchase_at)) as after_ms
  from player_rows
  group by player_id
)
-- Whole minutes by integer steps, as in session_lengths.sql.
select cast((after_ms - after_ms % 60000) / 60000 as bigint) as minutes, count(*) as players
from per_player
where after_ms is not null
group by 1
order by 1
