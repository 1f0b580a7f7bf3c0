-- One row per theme and case (the once-per-case rule: a barrier or topic noted several times
-- in one case counts once). Input: temp table theme_hits(theme_key, kind, provider_id, case_id,
-- noted_on, barrier_code, domain, score).
-- Params: $as_of, $window_start, $recent_start (first day of the window's second half)
--
-- score, the typicality used to pick exemplary cases:
--   code: share of the theme's window cases that have the same combination of coded pairs
--         as this case (the case shows the theme's most frequent pattern);
--   text: the highest topic share among the case's window notes (closest to the topic).
with hits as (
    select * from theme_hits where noted_on <= $as_of
),

regions as (
    select provider_id, case_id, any_value(region_code) as region_code
    from staging.cases
    group by provider_id, case_id
),

per_case as (
    select
        theme_key,
        any_value(kind) as kind,
        provider_id,
        case_id,
        min(noted_on) as first_noted,
        max(noted_on) as last_noted,
        max(noted_on) filter (where noted_on >= $window_start) as last_noted_window,
        bool_or(noted_on >= $window_start) as in_window,
        bool_or(noted_on >= $window_start and noted_on < $recent_start) as in_prev,
        bool_or(noted_on >= $recent_start) as in_recent,
        max(score) filter (where noted_on >= $window_start) as text_score
    from hits
    group by theme_key, provider_id, case_id
),

combination as (
    select provider_id, case_id,
           string_agg(distinct theme_key, ',' order by theme_key) as combination
    from hits
    where kind = 'code' and noted_on >= $window_start
    group by provider_id, case_id
),

scored as (
    select
        p.*,
        c.combination,
        case
            when p.kind = 'code' and p.in_window then
                count(*) over (partition by p.theme_key, p.in_window, c.combination)
                / count(*) over (partition by p.theme_key, p.in_window)
            else p.text_score
        end as score
    from per_case p
    left join combination c using (provider_id, case_id)
),

final as (
    select
        s.theme_key, s.kind, s.provider_id, s.case_id, r.region_code,
        s.first_noted, s.last_noted, s.last_noted_window,
        s.in_window, s.in_prev, s.in_recent,
        round(s.score, 6) as score
    from scored s
    left join regions r using (provider_id, case_id)
)

select * from final
