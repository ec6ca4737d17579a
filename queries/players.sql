-- One row per player: when they started, how much they played, paid, and whether they
-- joined a guild (the report's statistics resample these rows). Seconds from milliseconds,
-- as in sessions.sql.
select
  player_id,
  cast(min(client_ts) as date) as first_day,
  count(distinct cast(client_ts as date)) as active_days,
  count(distinct session_id) as sessions,
  count(*) as events,
  count(price) as purchases,
  coalesce(sum(price), 0) as revenue,
  min(case when event_type = 'join_guild' then cast(client_ts as date) end) as guild_day,
  cast(date_diff('millisecond', min(client_ts), min(case when price is not null then client_ts end)) as double)
    / 1000 as first_purchase_after_s
from events
where {run_filter} and client_ts is not null
group by player_id
order by player_id
