-- Purchase behaviour of guild members against everyone else. One pass over the events (a
-- members subquery beside it made Trino read them twice: 1.9 s against 1.5 s at 10 M).
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
with spend as (
  select
    player_id,
    coalesce(sum(revenue), 0) as revenue,
    sum(purchase_count) as purchases,
    sum(join_count) as guild_joins
  from player_sessions
  where {run_filter} and player_id is not null
  group by player_id
)
select
  case when guild_joins > 0 then 'guild member' else 'not in a guild' end as segment,
  count(*) as players,
  sum(case when purchases > 0 then 1 else 0 end) as paying_players,
  sum(revenue) as revenue,
  sum(revenue) / count(*) as revenue_per_player
from spend
group by 1
order by 1
