-- partitioned: shared
-- One row per calendar quarter reported: from the first quarter with data up to the quarter
-- that contains as_of (partial when as_of falls before its last day).
with
quarters as (
  select * from intermediate.quarters
),

final as (
  select
    period,
    period_start,
    period_end,
    counted_until,
    days,
    partial
  from quarters
)

select * from final order by period_start
