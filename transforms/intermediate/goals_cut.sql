-- materialized: view
-- partitioned: provider_id
-- Goals set on or before as_of (the cut), not yet joined to their cases. A goal review
-- (status_on) after as_of is not counted. intermediate.goals adds each goal's case;
-- mart.cases counts goals per case and joins the counts to its cases anyway (joining every
-- goal to its case first as well was a tenth of mart.cases at 1,000,000 cases).
with
params as (
  select as_of from intermediate.params
),

goals as (
  select * from staging.goals
),

final as (
  select
    g.provider_id,
    g.case_id,
    g.goal_id,
    g.domain,
    g.set_on,
    g.due_on,
    g.status,
    case when g.status_on <= p.as_of then g.status_on end as status_on,
    g.offer_available
  from goals as g
  cross join params as p
  where g.set_on <= p.as_of
)

select * from final
