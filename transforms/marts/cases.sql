-- partitioned: provider_id
-- Case reconstruction (Fallrekonstruktion): one row per case opened on or before as_of, with
-- pseudonymous keys and codes only (never free text), the counts of goals and referrals, the
-- longest wait, the barrier codes, the last contact and the process-quality flags.
with
params as (
  select * from intermediate.params
),

cases as (
  select * from intermediate.cases
),

-- the children at the cut, not joined to their cases: the counts are joined to the cases below
goals as (
  select * from intermediate.goals_cut
),

referrals as (
  select * from intermediate.referrals_cut
),

contacts as (
  select * from intermediate.contacts
),

barriers as (
  select * from intermediate.barriers
),

goal_stats as (
  select
    provider_id,
    case_id,
    count(*)::INTEGER as goals,
    count(*) filter (where not offer_available)::INTEGER as goals_without_offer,
    bool_or(status_on > set_on) as goal_reviewed
  from goals
  group by provider_id, case_id
),

referral_stats as (
  select
    provider_id,
    case_id,
    count(*)::INTEGER as referrals,
    count(*) filter (where outcome in ('kein_angebot', 'abgelehnt'))::INTEGER
      as referrals_failed,
    max(wait_days)::INTEGER as max_wait_days
  from referrals
  group by provider_id, case_id
),

-- aggregated before the join to the case (whose closing day the follow-up talk needs): a
-- second join of every contact row cost a third of this model
contact_stats as (
  select
    provider_id,
    case_id,
    max(contact_on) as last_contact_on,
    count(*)::INTEGER as contacts,
    bool_or(step = 'assessment') as has_assessment_step,
    bool_or(step = 'hilfeplan') as has_plan_step,
    bool_or(step = 'reassessment') as has_reassessment_step,
    bool_or(step = 'evaluation') as has_evaluation_step,
    max(contact_on) filter (where step = 'nachgespraech') as last_followup_talk_on
  from contacts
  group by provider_id, case_id
),

barrier_stats as (
  select
    provider_id,
    case_id,
    list_sort(list(distinct barrier_code)) as barrier_codes
  from barriers
  group by provider_id, case_id
),

joined as (
  select
    c.*,
    coalesce(g.goals, 0) as goals,
    coalesce(g.goals_without_offer, 0) as goals_without_offer,
    coalesce(g.goal_reviewed, false) as goal_reviewed,
    coalesce(r.referrals, 0) as referrals,
    coalesce(r.referrals_failed, 0) as referrals_failed,
    r.max_wait_days,
    coalesce(b.barrier_codes, []::VARCHAR[]) as barrier_codes,
    coalesce(k.contacts, 0) as contacts,
    coalesce(k.last_contact_on, c.opened_on) as last_contact_on,
    coalesce(k.has_assessment_step, false) as has_assessment_step,
    coalesce(k.has_plan_step, false) as has_plan_step,
    coalesce(k.has_reassessment_step, false) as has_reassessment_step,
    coalesce(k.has_evaluation_step, false) as has_evaluation_step,
    coalesce(k.last_followup_talk_on >= c.closed_on, false) as has_followup_talk,
    p.as_of,
    p.review_due_days,
    p.close_due_days,
    p.followup_conversation_days
  from cases as c
  cross join params as p
  left join goal_stats as g
    on c.provider_id = g.provider_id and c.case_id = g.case_id
  left join referral_stats as r
    on c.provider_id = r.provider_id and c.case_id = r.case_id
  left join contact_stats as k
    on c.provider_id = k.provider_id and c.case_id = k.case_id
  left join barrier_stats as b
    on c.provider_id = b.provider_id and c.case_id = b.case_id
),

flags as (
  select
    *,
    intensity = 'case_management' as is_cm,
    closed_on is null as is_open,
    (as_of - last_contact_on)::INTEGER as days_since_contact,
    case when closed_on is not null then (as_of - closed_on)::INTEGER end as followup_days
  from joined
),

final as (
  select
    provider_id,
    case_id,
    person_key,
    person_key_present,
    previous_case_id,
    program,
    region_code,
    caseworker_id,
    intensity,
    age_group,
    gender,
    referral_source,
    risk_level,
    phenomenon,
    opened_on,
    closed_on,
    close_reason,
    goals,
    goals_without_offer,
    referrals,
    referrals_failed,
    max_wait_days,
    barrier_codes,
    contacts,
    last_contact_on,
    days_since_contact,
    followup_days,
    -- Regelkreis flags: case management cases only (NULL = not applicable)
    case when is_cm then has_assessment_step end as has_assessment,
    case when is_cm then goals > 0 or has_plan_step end as has_plan,
    case when is_cm then has_reassessment_step or goal_reviewed end as has_review,
    case when is_cm and not is_open then has_evaluation_step end as has_evaluation,
    case when is_cm and not is_open then close_reason is not null end as close_reason_given,
    -- Wiedervorlage and overdue closure: every open case (NULL when closed)
    case when is_open then days_since_contact > review_due_days end as review_due,
    case when is_open then days_since_contact > close_due_days end as close_overdue,
    -- follow-up conversation: closed case management cases older than the limit
    case
      when is_cm and not is_open and followup_days > followup_conversation_days
        then not has_followup_talk
    end as followup_missing
  from flags
)

-- in no order: whoever shows rows sorts them (transforms/runner.py, „Row order“)
select * from final
