-- Swords bought and days played before a day (the sword price change's, which the report
-- finds in revenue_by_day) and from it on, per player; players with the same four numbers
-- counted together, so the report's bootstrap over players reads a few rows, not one per
-- player and day.
-- A row per player with their days in order (players_by_day), unnested and summed; on
-- DuckDB, queries/sword_rates.duckdb.sql stands for the part marked below.
with {players_by_day},
-- engine's own part begins
per_player as (
  select
    sum(case when p.days[x.i] < date '{change_day}' then p.day_swords[x.i] else 0 end) as swords_before,
    count(case when p.days[x.i] < date '{change_day}' then 1 end) as days_before,
    sum(case when p.days[x.i] >= date '{change_day}' then p.day_swords[x.i] else 0 end) as swords_after,
    count(case when p.days[x.i] >= date '{change_day}' then 1 end) as days_after
  from players_by_day p cross join unnest(sequence(1, cardinality(p.days))) as x (i)
  group by p.run, p.player_id
)
-- engine's own part ends
select swords_before, days_before, swords_after, days_after, count(*) as players
from per_player
group by 1, 2, 3, 4
order by 1, 2, 3, 4
