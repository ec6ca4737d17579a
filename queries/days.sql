-- Each game day (client time, UTC): players active (DAU), new and returning, those
-- active in the 7 days to it (WAU), revenue and paying players. One pass over the
-- events: the WAU is a running sum of +1 on a day of play and -1 when that day leaves the
-- week (7 days on, or the player's next day of play if sooner), so no range join and no
-- second read of the activity (Trino plans a CTE once per reference).
-- On Trino, queries/days.trino.sql stands for the part marked below: the same answer without
-- windows, faster there (docs/decisions.md).
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
with activity as (
  select player_id, day, sum(revenue) as revenue
  from player_sessions
  where {run_filter} and day is not null
  group by 1, 2
),
-- engine's own part begins
marked as (
  select
    day,
    revenue,
    day = min(day) over (partition by player_id) as is_new,
    lead(day) over (partition by player_id order by day) as next_day
  from activity
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
