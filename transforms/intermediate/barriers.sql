-- materialized: view
-- partitioned: provider_id
-- Barrier codes noted on or before as_of. The free-text note is deliberately not carried into
-- any mart. Not joined to the cases in scope: its one consumer, mart.cases, lists the codes
-- per case and joins the lists to its cases anyway (as intermediate.contacts).
with
params as (
  select as_of from intermediate.params
),

barriers as (
  select provider_id, case_id, noted_on, barrier_code, domain from staging.barriers
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
  where b.noted_on <= p.as_of
)

select * from final
