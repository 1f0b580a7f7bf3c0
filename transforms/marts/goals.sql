-- partitioned: provider_id
-- One row per goal set on or before as_of (support-plan goals), with its case's group and
-- the quarter of set_on; the base of the supply-gap figures.
with
goals as (
  select * from intermediate.goals
),

final as (
  select
    provider_id,
    case_id,
    goal_id,
    program,
    region_code,
    intensity,
    domain,
    period,
    set_on,
    due_on,
    status,
    status_on,
    offer_available
  from goals
)

-- in no order: whoever shows rows sorts them (transforms/runner.py, „Row order“)
select * from final
