-- The report's headline numbers for the selected run (or all data).
select
  count(*) as events,
  count(distinct player_id) as players,
  count(distinct case when price is not null then player_id end) as paying_players,
  coalesce(sum(price), 0) as revenue,
  count(case when event_type = 'purchase_sword' then 1 end) as sword_purchases,
  count(case when event_type = 'join_guild' then 1 end) as guild_joins
from events
where {run_filter}
