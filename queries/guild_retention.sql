-- D7 retention by guild membership, as counts: players by their first day, whether they
-- joined a guild by the end of the day after it (a first session past midnight joins
-- then) and whether they played 7 days after it. The report keeps the first days whose
-- seventh day is in the data and compares the two groups (gamepipe/effects.py).
-- A row per player with their days in order (players_by_day): a join by the day after
-- the first is one on their first day of play or on their second, if that is the next
-- day; no grouping by player.
with {players_by_day}
select
  days[1] as first_day,
  case when day_joins[1] > 0
         or (cardinality(days) >= 2 and days[2] = cast(days[1] + interval '1' day as date) and day_joins[2] > 0)
       then 1 else 0 end as member,
  case when contains(days, cast(days[1] + interval '7' day as date)) then 1 else 0 end as retained,
  count(*) as players
from players_by_day
group by 1, 2, 3
order by 1, 2, 3
