-- The report's headline numbers for the selected run (or all data).
-- Grouped by player first: one pass, cheaper than two count(distinct) on millions of rows.
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
with per_player as (
  select
    player_id,
    sum(event_count) as events,
    sum(purchase_count) as purchases,
    sum(revenue) as revenue,
    sum(sword_count) as sword_purchases,
    sum(join_count) as guild_joins
  from player_sessions
  where {run_filter}
  group by player_id
)
select
  coalesce(sum(events), 0) as events,
  count(player_id) as players,
  count(case when purchases > 0 then player_id end) as paying_players,
  coalesce(sum(revenue), 0) as revenue,
  coalesce(sum(sword_purchases), 0) as sword_purchases,
  coalesce(sum(guild_joins), 0) as guild_joins
from per_player
