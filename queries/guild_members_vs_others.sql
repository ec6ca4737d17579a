-- Purchase behaviour of guild members against everyone else.
with members as (
  select distinct player_id from events where {run_filter} and event_type = 'join_guild'
),
spend as (
  select player_id, coalesce(sum(price), 0) as revenue, count(price) as purchases
  from events
  where {run_filter} and player_id is not null
  group by player_id
)
select
  case when m.player_id is null then 'not in a guild' else 'guild member' end as segment,
  count(*) as players,
  sum(case when s.purchases > 0 then 1 else 0 end) as paying_players,
  sum(s.revenue) as revenue,
  sum(s.revenue) / count(*) as revenue_per_player
from spend s
left join members m on m.player_id = s.player_id
group by 1
order by 1
