-- Guild joins per guild.
select guild_name, count(*) as joins
from join_guilds
where {run_filter}
group by guild_name
order by joins desc, guild_name
