-- The ten players who spent most.
-- From the table players (a row per load run and player: player_sessions folded by table care)
-- and the player_sessions rows landed since its fold, grouped again (gamepipe/rollup.py PLAYERS).
with player_rows as (
  select player_id, purchase_count, revenue
  from players
  where {run_match} and purchase_count > 0
  union all
  select player_id, purchase_count, revenue
  from player_sessions
  where {run_filter} and purchase_count > 0 and landed > (select coalesce(max(through), -1) from players)
)
select player_id, sum(purchase_count) as purchases, sum(revenue) as revenue
from player_rows
group by player_id
order by revenue desc, player_id
limit 10
