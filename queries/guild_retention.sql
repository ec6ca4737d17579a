-- D7 retention by guild membership, as counts: players by their first day, whether they
-- joined a guild by the end of the day after it (a first session past midnight joins
-- then) and whether they played 7 days after it. The report keeps the first days whose
-- seventh day is in the data and compares the two groups (gamepipe/effects.py).
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
marked as (
  select player_id, day, joins, min(day) over (partition by player_id) as first_day from activity
),
per_player as (
  select
    first_day,
    max(case when joins > 0 and date_diff('day', first_day, day) <= 1 then 1 else 0 end) as member,
    max(case when date_diff('day', first_day, day) = 7 then 1 else 0 end) as retained
  from marked
  group by player_id, first_day
)
select first_day, member, retained, count(*) as players
from per_player
group by 1, 2, 3
order by 1, 2, 3
