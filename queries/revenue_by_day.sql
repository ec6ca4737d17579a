-- Purchases and revenue per game day and item (client time, UTC).
-- From the rollup item_days (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
select day, event_type, item, sum(purchase_count) as purchases, sum(revenue) as revenue
from item_days
where {run_match} and day is not null
group by 1, 2, 3
having sum(purchase_count) > 0
order by 1, 2, 3
