-- One row per session: its player, start, length (first to last event) and events.
select
  session_id,
  player_id,
  min(client_ts) as started,
  date_diff('second', min(client_ts), max(client_ts)) as length_s,
  count(*) as events
from events
where {run_filter} and client_ts is not null
group by 1, 2
order by 1
