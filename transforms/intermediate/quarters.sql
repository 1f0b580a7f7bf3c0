-- partitioned: shared
-- Calendar quarters from the first quarter with data (earliest case opening, goal or referral
-- on or before as_of) up to the quarter that contains as_of. `counted_until` is the last
-- counted day (period_end, or as_of in the quarter that contains it); `days` the counted days;
-- `partial` is true when as_of falls before the quarter's last day.
with
params as (
  select as_of from intermediate.params
),

-- a goal or referral of a case (intermediate.goals, intermediate.referrals) can lower the
-- first day only if it came before every case opening (rare): the cut rows are filtered on
-- that first and only those few are looked up among the cases (joining every goal and
-- referral to its case took 0.23 s at 1,000,000 cases)
opened as (
  select min(opened_on) as first_on from intermediate.cases
),

early as (
  select e.provider_id, e.case_id, e.on_day
  from (
    select provider_id, case_id, set_on as on_day from intermediate.goals_cut
    union all
    select provider_id, case_id, requested_on as on_day from intermediate.referrals_cut
  ) as e
  inner join opened as o
    on e.on_day < o.first_on
),

first_day as (
  select
    least(
      (select first_on from opened),
      (
        select min(e.on_day) from early as e
        where exists (
          select 1 from intermediate.cases as c
          where c.provider_id = e.provider_id and c.case_id = e.case_id
        )
      )
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
