-- partitioned: provider_id
-- One row per referral requested on or before as_of, with its case's group, the quarters of
-- request and start and the wait in days; the base of the referral-wait figures.
with
referrals as (
  select * from intermediate.referrals
),

final as (
  select
    provider_id,
    case_id,
    referral_id,
    goal_id,
    program,
    region_code,
    intensity,
    service_type,
    requested_on,
    requested_period,
    started_on,
    started_period,
    outcome,
    wait_days
  from referrals
)

-- in no order: whoever shows rows sorts them (transforms/runner.py, „Row order“)
select * from final
