-- Supply gaps (Versorgungslücken): quarter x provider x program x region x domain, over goals
-- with set_on in the quarter (on or before as_of). A gap is a goal without a suitable offer
-- (offer_available = false).
with
periods as (
  select period, period_start, period_end, partial from mart.periods
),

goals as (
  select * from mart.goals
),

aggregated as (
  select
    period,
    provider_id,
    program,
    region_code,
    domain,
    count(*)::INTEGER as goals_set,
    count(*) filter (where not offer_available)::INTEGER as goals_without_offer,
    count(distinct case_id) filter (where not offer_available)::INTEGER as cases_with_gap
  from goals
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
    a.domain,
    a.goals_set,
    a.goals_without_offer,
    a.cases_with_gap,
    a.goals_without_offer / nullif(a.goals_set, 0) as gap_rate
  from aggregated as a
  inner join periods as p
    on a.period = p.period
)

select * from final order by period, provider_id, program, region_code, domain
