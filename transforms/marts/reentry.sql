-- partitioned: person
-- Re-entry and relapse (Wiederaufnahme und Rückfall): one row per case closed on or before
-- as_of. Re-entry: the earliest opening, from day transfer_max_days + 1 (15) after the
-- closure, of (a) any case of any provider with the same person_key or (b) a case of the same
-- provider whose previous_case_id is this case. An opening on days 1..transfer_max_days is a
-- transfer (Übergabe), not a re-entry; a parallel case opened before or on the closure day is
-- neither. Relapse: the earliest relapse event strictly after the closure, of this case or
-- (with a person_key) of any case of the same person; relapses from opened_on to closed_on are
-- counted as during support. Matching is by ASOF join (nearest later date per key), so a
-- person with many cases never multiplies rows. The own_* columns repeat each figure from the
-- closing provider's own records only: a provider's case-level view shows those, never a date
-- or event that another provider recorded for the same person.
-- The closed cases come from intermediate.closed_cases; after a re-delivery only the rows of
-- the changed providers' cases and of their persons' cases elsewhere are built again.
with
cases as (
  select * from intermediate.cases
),

relapses as (
  select provider_id, subject_key, event_on, kind from intermediate.relapses
),

closed as (
  select * from intermediate.closed_cases
),

-- Only a person with more than one case can open another one after a closure, and only a
-- subject with a relapse can have one: the ASOF joins run over those closed cases alone
-- (1,000,000 cases: a fifth of the closed cases), and return matches only.
repeat_persons as (
  select person_key from cases where person_key is not null
  group by person_key having count(*) > 1
),

person_openings as (
  select person_key, provider_id, opened_on from cases
  where person_key in (select person_key from repeat_persons)
),

closed_repeat as (
  select provider_id, case_id, person_key, transfer_from, reentry_from from closed
  where person_key in (select person_key from repeat_persons)
),

-- (a) same person, any provider: the first opening from day 1 and from day 15
person_next as (
  select c.provider_id, c.case_id, o.opened_on as next_on
  from closed_repeat as c
  asof join person_openings as o
    on c.person_key = o.person_key and c.transfer_from <= o.opened_on
),

person_reentry as (
  select c.provider_id, c.case_id, o.opened_on as reentry_on
  from closed_repeat as c
  asof join person_openings as o
    on c.person_key = o.person_key and c.reentry_from <= o.opened_on
),

-- (a') the same, at the closing provider only
own_person_next as (
  select c.provider_id, c.case_id, o.opened_on as next_on
  from closed_repeat as c
  asof join person_openings as o
    on c.person_key = o.person_key and c.provider_id = o.provider_id
    and c.transfer_from <= o.opened_on
),

own_person_reentry as (
  select c.provider_id, c.case_id, o.opened_on as reentry_on
  from closed_repeat as c
  asof join person_openings as o
    on c.person_key = o.person_key and c.provider_id = o.provider_id
    and c.reentry_from <= o.opened_on
),

-- (b) re-opening at the same provider through previous_case_id
successor as (
  select
    c.provider_id,
    c.case_id,
    min(n.opened_on) filter (where n.opened_on >= c.transfer_from) as next_on,
    min(n.opened_on) filter (where n.opened_on >= c.reentry_from) as reentry_on
  from closed as c
  inner join cases as n
    on n.provider_id = c.provider_id and n.previous_case_id = c.case_id
  group by c.provider_id, c.case_id
),

closed_relapsing as (
  select provider_id, case_id, subject_key, closed_on from closed
  where subject_key in (select subject_key from relapses)
),

relapse_after as (
  select c.provider_id, c.case_id, r.event_on as relapse_on
  from closed_relapsing as c
  asof join relapses as r
    on c.subject_key = r.subject_key and c.closed_on < r.event_on
),

own_relapse_after as (
  select c.provider_id, c.case_id, r.event_on as relapse_on
  from closed_relapsing as c
  asof join relapses as r
    on c.subject_key = r.subject_key and c.provider_id = r.provider_id
    and c.closed_on < r.event_on
),

relapse_during as (
  select
    c.provider_id,
    c.case_id,
    count(distinct (r.event_on, r.kind))::INTEGER as relapses_during,
    count(distinct (r.event_on, r.kind)) filter (where r.provider_id = c.provider_id)
      ::INTEGER as own_relapses_during
  from closed as c
  inner join relapses as r
    on c.subject_key = r.subject_key and r.event_on between c.opened_on and c.closed_on
  group by c.provider_id, c.case_id
),

joined as (
  select
    c.*,
    pn.next_on as person_next_on,
    pr.reentry_on as person_reentry_on,
    s.next_on as successor_next_on,
    s.reentry_on as successor_reentry_on,
    least(pn.next_on, s.next_on) as next_on,
    least(pr.reentry_on, s.reentry_on) as reentry_on,
    ra.relapse_on,
    coalesce(rd.relapses_during, 0) as relapses_during,
    least(opn.next_on, s.next_on) as own_next_on,
    least(opr.reentry_on, s.reentry_on) as own_reentry_on,
    ora.relapse_on as own_relapse_on,
    coalesce(rd.own_relapses_during, 0) as own_relapses_during
  from closed as c
  left join person_next as pn
    on c.provider_id = pn.provider_id and c.case_id = pn.case_id
  left join person_reentry as pr
    on c.provider_id = pr.provider_id and c.case_id = pr.case_id
  left join successor as s
    on c.provider_id = s.provider_id and c.case_id = s.case_id
  left join relapse_after as ra
    on c.provider_id = ra.provider_id and c.case_id = ra.case_id
  left join relapse_during as rd
    on c.provider_id = rd.provider_id and c.case_id = rd.case_id
  left join own_person_next as opn
    on c.provider_id = opn.provider_id and c.case_id = opn.case_id
  left join own_person_reentry as opr
    on c.provider_id = opr.provider_id and c.case_id = opr.case_id
  left join own_relapse_after as ora
    on c.provider_id = ora.provider_id and c.case_id = ora.case_id
),

final as (
  select
    provider_id,
    case_id,
    person_key_present,
    program,
    region_code,
    intensity,
    close_reason,
    risk_level,
    phenomenon,
    opened_on,
    closed_on,
    followup_days,
    (reentry_on - closed_on)::INTEGER as reentry_days,
    case
      when reentry_on is null then null
      when person_reentry_on = reentry_on and successor_reentry_on = reentry_on then 'beide'
      when person_reentry_on = reentry_on then 'personen_pseudonym'
      else 'vorheriger_fall'
    end as reentry_via,
    case when next_on < reentry_from then (next_on - closed_on)::INTEGER end as transfer_days,
    (relapse_on - closed_on)::INTEGER as relapse_days,
    relapses_during::INTEGER as relapses_during,
    (own_reentry_on - closed_on)::INTEGER as own_reentry_days,
    case
      when own_next_on < reentry_from then (own_next_on - closed_on)::INTEGER
    end as own_transfer_days,
    (own_relapse_on - closed_on)::INTEGER as own_relapse_days,
    own_relapses_during::INTEGER as own_relapses_during
  from joined
)

-- in no order: whoever shows rows sorts them (transforms/runner.py, „Row order“)
select * from final
