-- The funnel, each step at or after the one before in client time: a first visit, then
-- a first purchase, then a guild join (players who reached each step).
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
with per_player as (
  select
    player_id,
    min(first_visit_at) as first_visit,
    min(first_purchase_at) as first_purchase,
    max(last_join_at) as last_join
  from player_sessions
  where {run_filter}
  group by player_id
)
select
  count(first_visit) as visited,
  count(case when first_purchase >= first_visit then 1 end) as purchased,
  count(case when first_purchase >= first_visit and last_join >= first_purchase then 1 end) as joined_guild
from per_player
