-- D7 retention by guild membership, as counts: players by their first day, whether they
-- joined a guild by the end of the day after it (a first session past midnight joins
-- then) and whether they played 7 days after it. The report keeps the first days whose
-- seventh day is in the data and compares the two groups (gamepipe/effects.py).
-- One row per player by a group by, no window (as in retention.sql): the first day, the
-- first day with a join, and the days played, to look the seventh day up in.
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
with activity as (
  select
    player_id,
    day,
    sum(join_count) as joins
  from player_sessions
  where {run_filter} and day is not null
  group by 1, 2
),
per_player as (
  select
    min(day) as first_day,
    min(case when joins > 0 then day end) as first_join_day,
    array_agg(day) as days
  from activity
  group by player_id
)
select
  first_day,
  case when date_diff('day', first_day, first_join_day) <= 1 then 1 else 0 end as member,
  case when contains(days, cast(first_day + interval '7' day as date)) then 1 else 0 end as retained,
  count(*) as players
from per_player
group by 1, 2, 3
order by 1, 2, 3
