-- One row per session: its player, start, length in seconds (first to last event) and
-- events. Lengths from milliseconds: both engines count whole milliseconds alike, not
-- whole seconds (DuckDB counts boundaries crossed, Trino whole units).
select
  session_id,
  player_id,
  min(client_ts) as started,
  cast(date_diff('millisecond', min(client_ts), max(client_ts)) as double) / 1000 as length_s,
  count(*) as events
from events
where {run_filter} and client_ts is not null
group by 1, 2
order by 1
