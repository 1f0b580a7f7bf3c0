-- partitioned: provider_id
-- Caseload per FTE: quarter x provider x program x region x scope, the sum of
-- mart.caseload_by_caseworker over caseworkers (every component is additive across
-- caseworkers, because each case and each staffing row belongs to exactly one caseworker).
with
by_caseworker as (
  select * from mart.caseload_by_caseworker
),

summed as (
  select
    period,
    period_start,
    period_end,
    counted_until,
    partial,
    provider_id,
    program,
    region_code,
    scope,
    days,
    sum(case_days)::DOUBLE as case_days,
    sum(fte_days)::DOUBLE as fte_days,
    sum(active_cases_end)::INTEGER as active_cases_end,
    sum(fte_end)::DOUBLE as fte_end,
    sum(cases_in_period)::INTEGER as cases_in_period,
    sum(cases_carried_over)::INTEGER as cases_carried_over,
    sum(cases_opened)::INTEGER as cases_opened,
    sum(cases_closed)::INTEGER as cases_closed
  from by_caseworker
  group by all
),

final as (
  select
    *,
    case_days / nullif(fte_days, 0) as avg_caseload,
    active_cases_end / nullif(fte_end, 0) as caseload_end,
    cases_in_period / nullif(fte_days / days, 0) as throughput_per_fte,
    case_days > 0 and fte_days = 0 as fte_missing
  from summed
)

select * from final
order by period, provider_id, program, region_code, scope
