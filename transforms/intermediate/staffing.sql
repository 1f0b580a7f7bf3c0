-- materialized: view
-- partitioned: provider_id
-- Staffing intervals that start on or before as_of, cut at as_of: `active_until` is
-- valid_to, else as_of (and never after as_of).
with
params as (
  select as_of from intermediate.params
),

staffing as (
  select * from staging.staffing
),

final as (
  select
    s.provider_id,
    s.caseworker_id,
    s.program,
    s.region_code,
    s.valid_from,
    least(coalesce(s.valid_to, p.as_of), p.as_of) as active_until,
    s.fte
  from staffing as s
  cross join params as p
  where s.valid_from <= p.as_of
    and (s.valid_to is null or s.valid_to >= s.valid_from)
)

select * from final
