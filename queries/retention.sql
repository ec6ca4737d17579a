-- The cohort triangle: players by the day of their first event (cohort), and how many of
-- them were active n days later (day_n = 0 is the cohort itself). Client time, UTC.
-- A row per player with their days in order (players_by_day: the table players' lists),
-- unnested: no grouping by player.
with {players_by_day}
select p.days[1] as cohort, date_diff('day', p.days[1], x.day) as day_n, count(*) as players
from players_by_day p cross join unnest(p.days) as x (day)
group by 1, 2
order by 1, 2
