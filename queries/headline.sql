-- The report's headline numbers for the selected run (or all data).
-- Grouped by player first: one pass, cheaper than two count(distinct) on millions of rows.
-- From the table players (a row per load run and player: player_sessions folded by table care)
-- and the player_sessions rows landed since its fold, grouped again (gamepipe/rollup.py PLAYERS).
with player_rows as (
  select player_id, event_count, purchase_count, revenue, sword_count, join_count
  from players
  where {run_match}
  union all
  select player_id, event_count, purchase_count, revenue, sword_count, join_count
  from player_sessions
  where {run_filter} and landed > (select coalesce(max(through), -1) from players)
),
per_player as (
  select
    player_id,
    sum(event_count) as events,
    sum(purchase_count) as purchases,
    sum(revenue) as revenue,
    sum(sword_count) as sword_purchases,
    sum(join_count) as guild_joins
  from player_rows
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
