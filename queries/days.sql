-- Each game day (client time, UTC): players active (DAU), new and returning, those
-- active in the 7 days to it (WAU), revenue and paying players.
with activity as (
  select player_id, cast(client_ts as date) as day, sum(price) as revenue
  from events
  where {run_filter} and client_ts is not null
  group by 1, 2
),
first_day as (
  select player_id, min(day) as first_day from activity group by 1
),
weekly as (
  select d.day, count(distinct a.player_id) as wau
  from (select distinct day from activity) d
  join activity a on a.day between d.day - interval '6' day and d.day
  group by d.day
)
select
  a.day,
  count(*) as dau,
  count(case when a.day = f.first_day then 1 end) as new_players,
  count(case when a.day > f.first_day then 1 end) as returning_players,
  max(w.wau) as wau,
  coalesce(sum(a.revenue), 0) as revenue,
  count(case when a.revenue > 0 then 1 end) as paying_players
from activity a
join first_day f on a.player_id = f.player_id
join weekly w on a.day = w.day
group by a.day
order by a.day
