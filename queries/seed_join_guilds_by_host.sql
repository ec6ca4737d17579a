-- The seed's own Presto query.
select host, count(*) as count from join_guilds group by host
