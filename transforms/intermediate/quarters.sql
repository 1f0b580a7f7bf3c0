-- partitioned: shared
-- Calendar quarters from the first quarter with data (earliest case opening, goal or referral
-- on or before as_of) up to the quarter that contains as_of. `counted_until` is the last
-- counted day (period_end, or as_of in the quarter that contains it); `days` the counted days;
-- `partial` is true when as_of falls before the quarter's last day.
with
params as (
  select as_of from intermediate.params
),

first_day as (
  select
    least(
      (select min(opened_on) from intermediate.cases),
      (select min(set_on) from intermediate.goals),
      (select min(requested_on) from intermediate.referrals)
    ) as first_on
),

bounds as (
  select
    date_trunc('quarter', f.first_on)::DATE as first_start,
    date_trunc('quarter', p.as_of)::DATE as last_start,
    p.as_of
  from first_day as f
  cross join params as p
  where f.first_on is not null
),

series as (
  select
    unnest(generate_series(first_start, last_start, interval 3 month))::DATE as period_start,
    as_of
  from bounds
),

final as (
  select
    year(period_start) || '-Q' || quarter(period_start) as period,
    period_start,
    (period_start + interval 3 month - interval 1 day)::DATE as period_end,
    least((period_start + interval 3 month - interval 1 day)::DATE, as_of) as counted_until,
    (least((period_start + interval 3 month - interval 1 day)::DATE, as_of)
      - period_start + 1)::INTEGER as days,
    as_of < (period_start + interval 3 month - interval 1 day)::DATE as partial
  from series
)

select * from final order by period_start
