-- Purchases and revenue per game day and item (client time, UTC).
select
  cast(client_ts as date) as day,
  event_type,
  coalesce(sword_type, potion_type, shield_type) as item,
  count(*) as purchases,
  sum(price) as revenue
from events
where {run_filter} and price is not null and client_ts is not null
group by 1, 2, 3
order by 1, 2, 3
