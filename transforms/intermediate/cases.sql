-- partitioned: provider_id
-- Every case opened on or before as_of, cut at as_of: a closure after as_of is treated as
-- open at as_of (closed_on and close_reason empty); `active_until` is the last day the case
-- is active in the counted time (closed_on, else as_of). Empty person keys become NULL.
with
params as (
  select as_of from intermediate.params
),

source as (
  select * from staging.cases
),

cut as (
  select
    s.provider_id,
    s.case_id,
    nullif(trim(s.person_key), '') as person_key,
    s.program,
    s.region_code,
    s.caseworker_id,
    s.intensity,
    s.opened_on,
    case when s.closed_on <= p.as_of then s.closed_on end as closed_on,
    case when s.closed_on <= p.as_of then s.close_reason end as close_reason,
    nullif(trim(s.previous_case_id), '') as previous_case_id,
    s.age_group,
    s.gender,
    s.referral_source,
    s.risk_level,
    s.phenomenon,
    p.as_of
  from source as s
  cross join params as p
  where s.opened_on <= p.as_of
),

final as (
  select
    provider_id,
    case_id,
    person_key,
    person_key is not null as person_key_present,
    program,
    region_code,
    caseworker_id,
    intensity,
    opened_on,
    closed_on,
    close_reason,
    coalesce(closed_on, as_of) as active_until,
    previous_case_id,
    age_group,
    gender,
    referral_source,
    risk_level,
    phenomenon
  from cut
)

select * from final
