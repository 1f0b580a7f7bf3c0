-- materialized: view
-- partitioned: provider_id
-- Referrals of the cut (intermediate.referrals_cut) of cases in intermediate.cases, with the
-- case's group and the quarters of request and start.
with
referrals as (
  select * from intermediate.referrals_cut
),

cases as (
  select provider_id, case_id, program, region_code, intensity from intermediate.cases
),

final as (
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
    r.started_on,
    r.outcome,
    year(r.requested_on) || '-Q' || quarter(r.requested_on) as requested_period,
    year(r.started_on) || '-Q' || quarter(r.started_on) as started_period,
    r.wait_days
  from referrals as r
  inner join cases as c
    on r.provider_id = c.provider_id and r.case_id = c.case_id
)

select * from final
