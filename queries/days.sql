-- Each game day (client time, UTC): players active (DAU), new and returning, those
-- active in the 7 days to it (WAU), revenue and paying players. One pass over each
-- player's days in order (players_by_day: the table players' lists): the WAU is a
-- running sum of +1 on a day of play and -1 when that day leaves the week (7 days on, or
-- the player's next day of play if sooner), so no range join, and no window over players.
-- On DuckDB, queries/days.duckdb.sql stands for the part marked below (docs/decisions.md).
with {players_by_day},
-- engine's own part begins
marked as (
  select
    p.days[x.i] as day,
    p.day_revenues[x.i] as revenue,
    x.i = 1 as is_new,
    case when x.i < cardinality(p.days) then p.days[x.i + 1] end as next_day
  from players_by_day p cross join unnest(sequence(1, cardinality(p.days))) as x (i)
),
-- engine's own part ends
steps as (
  select
    case when s.k = 0 then m.day
         else least(cast(m.day + interval '7' day as date), coalesce(m.next_day, cast(m.day + interval '7' day as date)))
    end as day,
    s.k, m.is_new, m.revenue
  from marked m cross join (values (0), (1)) as s (k)
),
per_day as (
  select
    day,
    count(case when k = 0 then 1 end) as dau,
    count(case when k = 0 and is_new then 1 end) as new_players,
    sum(case when k = 0 then 1 else -1 end) as wau_change,
    sum(case when k = 0 then revenue end) as revenue,
    count(case when k = 0 and revenue > 0 then 1 end) as paying_players
  from steps
  group by day
),
running as (
  select *, sum(wau_change) over (order by day rows between unbounded preceding and current row) as wau from per_day
)
select day, dau, new_players, dau - new_players as returning_players, wau, coalesce(revenue, 0) as revenue, paying_players
from running
where dau > 0
order by day
