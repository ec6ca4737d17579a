-- The funnel, each step at or after the one before in client time: a first visit, then
-- a first purchase, then a guild join (players who reached each step).
-- From the table players (a row per load run and player: player_sessions folded by table care)
-- and the player_sessions rows landed since its fold, grouped again (gamepipe/rollup.py PLAYERS).
with player_rows as (
  select player_id, first_visit_at, first_purchase_at, last_join_at
  from players
  where {run_match}
  union all
  select player_id, first_visit_at, first_purchase_at, last_join_at
  from player_sessions
  where {run_filter} and landed > (select coalesce(max(through), -1) from players)
),
per_player as (
  select
    player_id,
    min(first_visit_at) as first_visit,
    min(first_purchase_at) as first_purchase,
    max(last_join_at) as last_join
  from player_rows
  group by player_id
)
select
  count(first_visit) as visited,
  count(case when first_purchase >= first_visit then 1 end) as purchased,
  count(case when first_purchase >= first_visit and last_join >= first_purchase then 1 end) as joined_guild
from per_player
