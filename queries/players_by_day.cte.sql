players_by_day as (
  -- A row per load run and player who played on a game day: the days (ascending) and each
  -- day's revenue, swords bought and guild joins, from the lists the table players keeps
  -- (folded by table care, gamepipe/rollup.py PLAYERS). The players with player_sessions
  -- rows landed since the fold are listed again from their lists and those rows. So is the
  -- player of a run's events without a player id (one player, as kpis.py counts them),
  -- always: `exists` on `=` never matches a null, which listed it twice.
  with landed_since as (
    select
      {run_of_session} as run,
      player_id, day, coalesce(revenue, 0) as revenue, sword_count as swords, join_count as joins
    from player_sessions
    where {run_filter} and day is not null and landed > (select coalesce(max(through), -1) from players)
  ),
  touched as (
    select run, player_id, days, day_revenues, day_swords, day_joins
    from players p
    where {run_match} and exists (select 1 from landed_since t where t.run = p.run and t.player_id = p.player_id)
    union all
    -- (few; the engines skip the files whose null counts say they have none)
    select run, player_id, days, day_revenues, day_swords, day_joins
    from players p
    where {run_match} and player_id is null
  )
  select run, player_id, days, day_revenues, day_swords, day_joins
  from players p
  where {run_match} and cardinality(days) > 0 and player_id is not null
    and not exists (select 1 from landed_since t where t.run = p.run and t.player_id = p.player_id)
  union all
  select
    run, player_id,
    array_agg(day order by day) as days,
    array_agg(revenue order by day) as day_revenues,
    array_agg(swords order by day) as day_swords,
    array_agg(joins order by day) as day_joins
  from (
    select run, player_id, day, sum(revenue) as revenue, sum(swords) as swords, sum(joins) as joins
    from (
      select p.run, p.player_id, p.days[x.i] as day, p.day_revenues[x.i] as revenue, p.day_swords[x.i] as swords,
             p.day_joins[x.i] as joins
      from touched p cross join unnest(sequence(1, cardinality(p.days))) as x (i)
      union all
      select run, player_id, day, revenue, swords, joins
      from landed_since
    ) as both_
    group by 1, 2, 3
  ) as by_day
  group by 1, 2
)
