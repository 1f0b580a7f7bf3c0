-- materialized: view
-- partitioned: provider_id
-- Every case closed on or before as_of (intermediate.cases), with the subject its re-entry and
-- relapses are matched on (the person, when the case carries a person_key, or else the case
-- itself), the first day of a transfer and of a re-entry after the closure, and the follow-up
-- time. The rows of mart.reentry: after a re-delivery it is rebuilt for those of them that
-- belong to a changed provider or to a person with a case there (`-- partitioned: person`).
with
params as (
  select as_of, transfer_max_days from intermediate.params
),

cases as (
  select * from intermediate.cases
),

final as (
  select
    c.provider_id,
    c.case_id,
    c.person_key,
    c.person_key_present,
    coalesce('p:' || c.person_key, 'c:' || c.provider_id || '/' || c.case_id) as subject_key,
    c.program,
    c.region_code,
    c.intensity,
    c.close_reason,
    c.risk_level,
    c.phenomenon,
    c.opened_on,
    c.closed_on,
    c.closed_on + 1 as transfer_from,
    c.closed_on + p.transfer_max_days + 1 as reentry_from,
    (p.as_of - c.closed_on)::INTEGER as followup_days
  from cases as c
  cross join params as p
  where c.closed_on is not null
)

select * from final
