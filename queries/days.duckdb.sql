-- DuckDB's text of the part of days.sql between its marks (gamepipe/query.py splices it in):
-- the lists unnested side by side in the select list (DuckDB zips them, the shorter
-- padded with null), where an unnest of positions joins each back to its row (at 100 M:
-- 1,751 ms -> 495 ms). The first day is the player's first; the one after a day is where
-- it stops counting for the WAU.
marked as (
  select day, revenue, day = first_day as is_new, next_day
  from (
    select unnest(p.days) as day, unnest(p.day_revenues) as revenue, p.days[1] as first_day,
           unnest(p.days[2:]) as next_day
    from players_by_day p
  ) as x
),
