-- materialized: view
-- partitioned: provider_id
-- Barrier codes noted on or before as_of, of cases in intermediate.cases. The free-text note
-- is deliberately not carried into any mart.
with
params as (
  select as_of from intermediate.params
),

barriers as (
  select provider_id, case_id, noted_on, barrier_code, domain from staging.barriers
),

cases as (
  select provider_id, case_id from intermediate.cases
),

final as (
  select
    b.provider_id,
    b.case_id,
    b.noted_on,
    b.barrier_code,
    b.domain
  from barriers as b
  cross join params as p
  inner join cases as c
    on b.provider_id = c.provider_id and b.case_id = c.case_id
  where b.noted_on <= p.as_of
)

select * from final
