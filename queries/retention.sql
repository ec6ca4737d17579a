-- The cohort triangle: players by the day of their first event (cohort), and how many of
-- them were active n days later (day_n = 0 is the cohort itself). Client time, UTC. Each
-- player's days gathered into one row with their first (a group by, no window: Trino's
-- window over 100,000 player partitions took 0.9 s of CPU at 10 M), then unnested: the
-- activity is read once (Trino computes a CTE once per reference).
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
with activity as (
  select distinct player_id, day
  from player_sessions
  where {run_filter} and day is not null
),
per_player as (
  select min(day) as cohort, array_agg(day) as days
  from activity
  group by player_id
)
select p.cohort, date_diff('day', p.cohort, t.day) as day_n, count(*) as players
from per_player p cross join unnest(p.days) as t (day)
group by 1, 2
order by 1, 2
