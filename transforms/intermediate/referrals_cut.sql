-- materialized: view
-- partitioned: provider_id
-- Referrals requested on or before as_of (the cut), not yet joined to their cases. A start
-- after as_of counts as not started; wait_days = started_on - requested_on of a started
-- referral. intermediate.referrals adds each referral's case; mart.cases counts referrals per
-- case and joins the counts to its cases anyway (joining every referral to its case first as
-- well was a tenth of mart.cases at 1,000,000 cases).
with
params as (
  select as_of from intermediate.params
),

referrals as (
  select * from staging.referrals
),

cut as (
  select
    r.provider_id,
    r.case_id,
    r.referral_id,
    r.goal_id,
    r.service_type,
    r.requested_on,
    case when r.started_on <= p.as_of then r.started_on end as started_on,
    r.outcome
  from referrals as r
  cross join params as p
  where r.requested_on <= p.as_of
),

final as (
  select
    *,
    (started_on - requested_on)::INTEGER as wait_days
  from cut
)

select * from final
