-- materialized: view
-- partitioned: provider_id
-- Referrals requested on or before as_of, of cases in intermediate.cases. A start after
-- as_of counts as not started; wait_days = started_on - requested_on of a started referral.
with
params as (
  select as_of from intermediate.params
),

referrals as (
  select * from staging.referrals
),

cases as (
  select provider_id, case_id, program, region_code, intensity from intermediate.cases
),

cut as (
  select
    r.provider_id,
    r.case_id,
    r.referral_id,
    r.goal_id,
    c.program,
    c.region_code,
    c.intensity,
    r.service_type,
    r.requested_on,
    case when r.started_on <= p.as_of then r.started_on end as started_on,
    r.outcome
  from referrals as r
  cross join params as p
  inner join cases as c
    on r.provider_id = c.provider_id and r.case_id = c.case_id
  where r.requested_on <= p.as_of
),

final as (
  select
    *,
    year(requested_on) || '-Q' || quarter(requested_on) as requested_period,
    year(started_on) || '-Q' || quarter(started_on) as started_period,
    (started_on - requested_on)::INTEGER as wait_days
  from cut
)

select * from final
