-- The report's headline numbers for the selected run (or all data).
-- Grouped by player first: one pass, cheaper than two count(distinct) on millions of rows.
with per_player as (
  select
    player_id,
    count(*) as events,
    count(price) as purchases,
    sum(price) as revenue,
    count(case when event_type = 'purchase_sword' then 1 end) as sword_purchases,
    count(case when event_type = 'join_guild' then 1 end) as guild_joins
  from events
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
