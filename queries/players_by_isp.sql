-- Players and events by ISP (the Host header's domain, as the seed grouped by host).
select regexp_replace(host, '^[^.]+[.]', '') as isp, count(distinct player_id) as players, count(*) as events
from events
where {run_filter} and host is not null
group by 1
order by players desc, isp
