-- materialized: view
-- partitioned: provider_id
-- Goals set on or before as_of, of cases in intermediate.cases, with the case's group and the
-- quarter of set_on. A goal review (status_on) after as_of is not counted.
with
params as (
  select as_of from intermediate.params
),

goals as (
  select * from staging.goals
),

cases as (
  select provider_id, case_id, program, region_code, intensity from intermediate.cases
),

final as (
  select
    g.provider_id,
    g.case_id,
    g.goal_id,
    c.program,
    c.region_code,
    c.intensity,
    g.domain,
    g.set_on,
    year(g.set_on) || '-Q' || quarter(g.set_on) as period,
    g.due_on,
    g.status,
    case when g.status_on <= p.as_of then g.status_on end as status_on,
    g.offer_available
  from goals as g
  cross join params as p
  inner join cases as c
    on g.provider_id = c.provider_id and g.case_id = c.case_id
  where g.set_on <= p.as_of
)

select * from final
