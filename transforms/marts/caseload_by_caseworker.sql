-- partitioned: provider_id
-- Caseload per FTE per caseworker: quarter x provider x program x region x caseworker x scope.
-- Day sums by interval overlap of each case (opened_on..active_until) and each staffing row
-- (valid_from..active_until) with the quarter's counted days (period_start..counted_until);
-- no row per day is ever made. Both scopes get a row for every group present in the quarter
-- (with cases or with staff), so that both roll up over the same groups.
with
quarters as (
  select period, period_start, period_end, counted_until, days, partial
  from intermediate.quarters
),

cases as (
  select provider_id, program, region_code, caseworker_id, intensity, opened_on, closed_on,
    active_until
  from intermediate.cases
),

staffing as (
  select provider_id, program, region_code, caseworker_id, valid_from, active_until, fte
  from intermediate.staffing
),

scopes as (
  select * from (values ('alle'), ('case_management')) as s(scope)
),

-- case x quarter where the case is active on at least one counted day of the quarter
case_overlap as (
  select
    q.period,
    c.provider_id,
    c.program,
    c.region_code,
    c.caseworker_id,
    c.intensity,
    (least(c.active_until, q.counted_until) - greatest(c.opened_on, q.period_start) + 1)
      as active_days,
    c.active_until >= q.counted_until as active_at_end,
    c.opened_on < q.period_start as carried_over,
    c.closed_on is not null and c.closed_on <= q.counted_until as closed_in_period
  from cases as c
  inner join quarters as q
    on c.opened_on <= q.counted_until and c.active_until >= q.period_start
),

-- both scopes from one pass over the overlaps (a join with the scopes first doubled the rows
-- before grouping); the case_management components of a group without such a case are left
-- out here and become zeros in `joined`, which gives every group both scopes
case_both as (
  select
    period,
    provider_id,
    program,
    region_code,
    caseworker_id,
    sum(active_days)::DOUBLE as case_days,
    count(*) filter (where active_at_end)::INTEGER as active_cases_end,
    count(*)::INTEGER as cases_in_period,
    count(*) filter (where carried_over)::INTEGER as cases_carried_over,
    count(*) filter (where not carried_over)::INTEGER as cases_opened,
    count(*) filter (where closed_in_period)::INTEGER as cases_closed,
    sum(active_days) filter (where intensity = 'case_management')::DOUBLE as cm_case_days,
    count(*) filter (where intensity = 'case_management' and active_at_end)::INTEGER
      as cm_active_cases_end,
    count(*) filter (where intensity = 'case_management')::INTEGER as cm_cases_in_period,
    count(*) filter (where intensity = 'case_management' and carried_over)::INTEGER
      as cm_cases_carried_over,
    count(*) filter (where intensity = 'case_management' and not carried_over)::INTEGER
      as cm_cases_opened,
    count(*) filter (where intensity = 'case_management' and closed_in_period)::INTEGER
      as cm_cases_closed
  from case_overlap
  group by all
),

case_components as (
  select
    period, provider_id, program, region_code, caseworker_id, 'alle' as scope,
    case_days, active_cases_end, cases_in_period, cases_carried_over, cases_opened,
    cases_closed
  from case_both
  union all
  select
    period, provider_id, program, region_code, caseworker_id, 'case_management' as scope,
    cm_case_days, cm_active_cases_end, cm_cases_in_period, cm_cases_carried_over,
    cm_cases_opened, cm_cases_closed
  from case_both
  where cm_cases_in_period > 0
),

-- staffing row x quarter where the row is valid on at least one counted day of the quarter
staff_overlap as (
  select
    q.period,
    s.provider_id,
    s.program,
    s.region_code,
    s.caseworker_id,
    s.fte,
    (least(s.active_until, q.counted_until) - greatest(s.valid_from, q.period_start) + 1)
      as valid_days,
    s.active_until >= q.counted_until as valid_at_end
  from staffing as s
  inner join quarters as q
    on s.valid_from <= q.counted_until and s.active_until >= q.period_start
),

staff_components as (
  select
    period,
    provider_id,
    program,
    region_code,
    caseworker_id,
    sum(fte * valid_days)::DOUBLE as fte_days,
    coalesce(sum(fte) filter (where valid_at_end), 0)::DOUBLE as fte_end
  from staff_overlap
  group by all
),

groups as (
  select period, provider_id, program, region_code, caseworker_id from case_components
  union
  select period, provider_id, program, region_code, caseworker_id from staff_components
),

joined as (
  select
    g.period,
    q.period_start,
    q.period_end,
    q.counted_until,
    q.partial,
    g.provider_id,
    g.program,
    g.region_code,
    g.caseworker_id,
    s.scope,
    q.days,
    coalesce(c.case_days, 0)::DOUBLE as case_days,
    coalesce(f.fte_days, 0)::DOUBLE as fte_days,
    coalesce(c.active_cases_end, 0)::INTEGER as active_cases_end,
    coalesce(f.fte_end, 0)::DOUBLE as fte_end,
    coalesce(c.cases_in_period, 0)::INTEGER as cases_in_period,
    coalesce(c.cases_carried_over, 0)::INTEGER as cases_carried_over,
    coalesce(c.cases_opened, 0)::INTEGER as cases_opened,
    coalesce(c.cases_closed, 0)::INTEGER as cases_closed
  from groups as g
  cross join scopes as s
  inner join quarters as q
    on g.period = q.period
  left join case_components as c
    on g.period = c.period
    and g.provider_id is not distinct from c.provider_id
    and g.program is not distinct from c.program
    and g.region_code is not distinct from c.region_code
    and g.caseworker_id is not distinct from c.caseworker_id
    and s.scope = c.scope
  left join staff_components as f
    on g.period = f.period
    and g.provider_id is not distinct from f.provider_id
    and g.program is not distinct from f.program
    and g.region_code is not distinct from f.region_code
    and g.caseworker_id is not distinct from f.caseworker_id
),

final as (
  select
    period,
    period_start,
    period_end,
    counted_until,
    partial,
    provider_id,
    program,
    region_code,
    caseworker_id,
    scope,
    days,
    case_days,
    fte_days,
    active_cases_end,
    fte_end,
    cases_in_period,
    cases_carried_over,
    cases_opened,
    cases_closed,
    case_days / nullif(fte_days, 0) as avg_caseload,
    active_cases_end / nullif(fte_end, 0) as caseload_end,
    cases_in_period / nullif(fte_days / days, 0) as throughput_per_fte,
    case_days > 0 and fte_days = 0 as fte_missing
  from joined
)

-- sorted: mart.caseload sums its DOUBLE columns per scope; so both scopes add their
-- caseworkers in the same order, and the FTE days are the same to the last bit, run after run
-- (unsorted, checks.py `scopes_consistent` failed while it compared them exactly)
select * from final
order by period, provider_id, program, region_code, caseworker_id, scope
