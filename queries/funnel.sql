-- The funnel, each step at or after the one before in client time: a first visit, then
-- a first purchase, then a guild join (players who reached each step).
with per_player as (
  select
    player_id,
    min(case when event_type = 'default' then client_ts end) as first_visit,
    min(case when price is not null then client_ts end) as first_purchase,
    max(case when event_type = 'join_guild' then client_ts end) as last_join
  from events
  where {run_filter}
  group by player_id
)
select
  count(first_visit) as visited,
  count(case when first_purchase >= first_visit then 1 end) as purchased,
  count(case when first_purchase >= first_visit and last_join >= first_purchase then 1 end) as joined_guild
from per_player
