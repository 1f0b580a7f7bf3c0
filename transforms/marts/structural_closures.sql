-- Structural closures: quarter x provider x program x region, the cases closed in the quarter
-- (on or before as_of) and of those the ones closed for structural reasons
-- (close_reason = strukturelle_hindernisse).
with
periods as (
  select period, period_start, period_end, counted_until, partial from mart.periods
),

cases as (
  select provider_id, program, region_code, closed_on, close_reason
  from mart.cases
  where closed_on is not null
),

aggregated as (
  select
    p.period,
    c.provider_id,
    c.program,
    c.region_code,
    count(*)::INTEGER as closures,
    count(*) filter (where c.close_reason = 'strukturelle_hindernisse')::INTEGER
      as structural_closures
  from cases as c
  inner join periods as p
    on c.closed_on between p.period_start and p.counted_until
  group by all
),

final as (
  select
    a.period,
    p.period_start,
    p.period_end,
    p.partial,
    a.provider_id,
    a.program,
    a.region_code,
    a.closures,
    a.structural_closures,
    a.structural_closures / nullif(a.closures, 0) as structural_share
  from aggregated as a
  inner join periods as p
    on a.period = p.period
)

select * from final order by period, provider_id, program, region_code
