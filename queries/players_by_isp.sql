-- Players and events by ISP (the Host header's domain, as the seed grouped by host):
-- what follows the first dot (user1.comcast.com -> comcast.com).
select substr(host, strpos(host, '.') + 1) as isp, count(distinct player_id) as players, count(*) as events
from events
where {run_filter} and host is not null
group by 1
order by players desc, isp
