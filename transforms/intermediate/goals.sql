-- materialized: view
-- partitioned: provider_id
-- Goals of the cut (intermediate.goals_cut) of cases in intermediate.cases, with the case's
-- group and the quarter of set_on.
with
goals as (
  select * from intermediate.goals_cut
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
    g.status_on,
    g.offer_available
  from goals as g
  inner join cases as c
    on g.provider_id = c.provider_id and g.case_id = c.case_id
)

select * from final
