-- Revenue per item family (swords, shields, potions).
select event_type, count(*) as purchases, sum(price) as revenue
from events
where {run_filter} and price is not null
group by event_type
order by revenue desc, event_type
