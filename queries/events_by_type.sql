-- Events per type.
select event_type, count(*) as events
from events
where {run_filter}
group by event_type
order by events desc, event_type
