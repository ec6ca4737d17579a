-- Events per type.
-- From the rollup item_days (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
select event_type, sum(event_count) as events
from item_days
where {run_match}
group by event_type
order by events desc, event_type
