-- The ten players who spent most.
select player_id, count(price) as purchases, sum(price) as revenue
from events
where {run_filter} and price is not null
group by player_id
order by revenue desc, player_id
limit 10
