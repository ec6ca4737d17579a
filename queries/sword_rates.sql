-- Swords bought and days played before a day (the sword price change's, which the report
-- finds in revenue_by_day) and from it on, per player; players with the same four numbers
-- counted together, so the report's bootstrap over players reads a few rows, not one per
-- player and day.
-- From the rollup player_sessions (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
with per_day as (
  select player_id, day, sum(sword_count) as swords
  from player_sessions
  where {run_filter} and day is not null
  group by 1, 2
),
per_player as (
  select
    sum(case when day < date '{change_day}' then swords else 0 end) as swords_before,
    count(case when day < date '{change_day}' then 1 end) as days_before,
    sum(case when day >= date '{change_day}' then swords else 0 end) as swords_after,
    count(case when day >= date '{change_day}' then 1 end) as days_after
  from per_day
  group by player_id
)
select swords_before, days_before, swords_after, days_after, count(*) as players
from per_player
group by 1, 2, 3, 4
order by 1, 2, 3, 4
