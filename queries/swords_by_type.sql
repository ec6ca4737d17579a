-- Sword purchases by sword type: how many, at what price, how much revenue.
select sword_type, count(*) as purchases, min(price) as price, sum(price) as revenue
from sword_purchases
where {run_filter}
group by sword_type
order by revenue desc, sword_type
