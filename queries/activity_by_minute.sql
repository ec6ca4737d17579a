-- Events per minute of server time, by type.
select date_trunc('minute', received_at) as minute, event_type, count(*) as events
from events
where {run_filter}
group by 1, 2
order by 1, 2
