-- Dead letters: records in Kafka that were not valid events, by reason (all time).
select reason, count(*) as records
from rejected_events
group by reason
order by records desc, reason
