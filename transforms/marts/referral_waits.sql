-- Referral waits: quarter x provider x program x region x service_type. Referrals requested in
-- the quarter (with outcome kein_angebot / abgelehnt), referrals started in it with the median
-- and 90th percentile of their wait (quantile_cont: linear interpolation, as numpy and pandas
-- do by default), and the referrals still waiting at the quarter's last counted day.
with
periods as (
  select period, period_start, period_end, counted_until, partial from mart.periods
),

referrals as (
  select * from mart.referrals
),

requested as (
  select
    requested_period as period,
    provider_id,
    program,
    region_code,
    service_type,
    count(*)::INTEGER as referrals,
    count(*) filter (where outcome = 'kein_angebot')::INTEGER as no_offer,
    count(*) filter (where outcome = 'abgelehnt')::INTEGER as rejected
  from referrals
  group by all
),

started as (
  select
    started_period as period,
    provider_id,
    program,
    region_code,
    service_type,
    count(*)::INTEGER as started,
    quantile_cont(wait_days::DOUBLE, 0.5) as wait_days_median,
    quantile_cont(wait_days::DOUBLE, 0.9) as wait_days_p90,
    avg(wait_days::DOUBLE) as wait_days_mean
  from referrals
  where started_on is not null
  group by all
),

-- requested by the quarter's last counted day, not started by then, not closed without start
waiting as (
  select
    p.period,
    r.provider_id,
    r.program,
    r.region_code,
    r.service_type,
    count(*)::INTEGER as waiting_at_end
  from referrals as r
  inner join periods as p
    on r.requested_on <= p.counted_until
    and coalesce(r.started_on, DATE '9999-12-31') > p.counted_until
  where r.outcome not in ('abgelehnt', 'kein_angebot', 'nicht_wahrgenommen')
  group by all
),

groups as (
  select period, provider_id, program, region_code, service_type from requested
  union
  select period, provider_id, program, region_code, service_type from started
  union
  select period, provider_id, program, region_code, service_type from waiting
),

final as (
  select
    g.period,
    p.period_start,
    p.period_end,
    p.partial,
    g.provider_id,
    g.program,
    g.region_code,
    g.service_type,
    coalesce(q.referrals, 0)::INTEGER as referrals,
    coalesce(q.no_offer, 0)::INTEGER as no_offer,
    coalesce(q.rejected, 0)::INTEGER as rejected,
    coalesce(s.started, 0)::INTEGER as started,
    s.wait_days_median,
    s.wait_days_p90,
    s.wait_days_mean,
    coalesce(w.waiting_at_end, 0)::INTEGER as waiting_at_end
  from groups as g
  inner join periods as p
    on g.period = p.period
  left join requested as q
    on g.period = q.period and g.provider_id = q.provider_id and g.program = q.program
    and g.region_code = q.region_code and g.service_type = q.service_type
  left join started as s
    on g.period = s.period and g.provider_id = s.provider_id and g.program = s.program
    and g.region_code = s.region_code and g.service_type = s.service_type
  left join waiting as w
    on g.period = w.period and g.provider_id = w.provider_id and g.program = w.program
    and g.region_code = w.region_code and g.service_type = w.service_type
)

select * from final order by period, provider_id, program, region_code, service_type
