-- The cohort triangle: players by the day of their first event (cohort), and how many of
-- them were active n days later (day_n = 0 is the cohort itself). Client time, UTC.
with activity as (
  select distinct player_id, cast(client_ts as date) as day
  from events
  where {run_filter} and client_ts is not null
),
cohort as (
  select player_id, min(day) as cohort from activity group by 1
)
select c.cohort, date_diff('day', c.cohort, a.day) as day_n, count(*) as players
from activity a
join cohort c on a.player_id = c.player_id
group by 1, 2
order by 1, 2
