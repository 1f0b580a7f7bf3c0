-- materialized: view
-- partitioned: provider_id
-- Documented steps of the case management cycle on or before as_of, of cases in
-- intermediate.cases.
with
params as (
  select as_of from intermediate.params
),

contacts as (
  select * from staging.contacts
),

cases as (
  select provider_id, case_id from intermediate.cases
),

final as (
  select
    k.provider_id,
    k.case_id,
    k.contact_on,
    k.step
  from contacts as k
  cross join params as p
  inner join cases as c
    on k.provider_id = c.provider_id and k.case_id = c.case_id
  where k.contact_on <= p.as_of
)

select * from final
