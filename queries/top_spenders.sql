-- The ten players who spent most.
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
select player_id, sum(purchase_count) as purchases, sum(revenue) as revenue
from player_sessions
where {run_filter} and purchase_count > 0
group by player_id
order by revenue desc, player_id
limit 10
