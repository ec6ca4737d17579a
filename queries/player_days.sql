-- One row per player and game day played: swords bought and revenue (an extract for
-- analysts; the report estimates the price change's effect from sword_rates.sql).
select
  player_id,
  cast(client_ts as date) as day,
  count(case when event_type = 'purchase_sword' then 1 end) as swords,
  coalesce(sum(price), 0) as revenue
from events
where {run_filter} and client_ts is not null
group by 1, 2
order by 1, 2
