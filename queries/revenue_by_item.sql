-- Revenue per item family (swords, shields, potions).
-- From the rollup item_days (gamepipe/rollup.py), grouped again: its rows of one key may be partial.
select event_type, sum(purchase_count) as purchases, sum(revenue) as revenue
from item_days
where {run_match}
group by event_type
having sum(purchase_count) > 0
order by revenue desc, event_type
