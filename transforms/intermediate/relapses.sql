-- materialized: view
-- partitioned: provider_id
-- Relapse events on or before as_of with the subject they belong to: the person (when the
-- case carries a person_key) or else the case itself. Re-entry and relapse match on it.
-- Partitioned (a relapse belongs to a case of its own provider), so that a re-delivery that
-- changes only relapses is seen by the partial build and re-entry is rebuilt for its persons.
with
params as (
  select as_of from intermediate.params
),

relapses as (
  select provider_id, case_id, event_on, kind, source from staging.relapses
),

cases as (
  select provider_id, case_id, person_key from intermediate.cases
),

final as (
  select
    r.provider_id,
    r.case_id,
    coalesce('p:' || c.person_key, 'c:' || r.provider_id || '/' || r.case_id) as subject_key,
    r.event_on,
    r.kind,
    r.source
  from relapses as r
  cross join params as p
  inner join cases as c
    on r.provider_id = c.provider_id and r.case_id = c.case_id
  where r.event_on <= p.as_of
)

select * from final
