-- materialized: view
-- partitioned: provider_id
-- Documented steps of the case management cycle on or before as_of. Not joined to the cases
-- in scope: every consumer joins them to its cases anyway (mart.cases, per case), and joining
-- each contact here as well was a third of mart.cases (8.1 million contacts at 1,000,000
-- cases: 2.5 -> 1.7 s).
with
params as (
  select as_of from intermediate.params
),

contacts as (
  select * from staging.contacts
),

final as (
  select
    k.provider_id,
    k.case_id,
    k.contact_on,
    k.step
  from contacts as k
  cross join params as p
  where k.contact_on <= p.as_of
)

select * from final
