-- Figures per theme over the window (metrics.md, "Generative themes"). Input: theme_case_rows.
-- Params: $min_cases, $min_providers, $days_prev, $days_recent
--
-- trend: cases in the window's second half (recent) against its first half (prev). The last
-- quarter of the window is partial (it ends at as_of), so the word compares cases per day:
-- recent is projected onto the length of the first half; "steigend" when that projection is
-- at least 25 % and at least 2 cases above prev, "fallend" when at least 20 % and 2 cases below.
with per_theme as (
    select
        theme_key,
        any_value(kind) as kind,
        count(*) filter (where in_window)::integer as cases,
        count(distinct provider_id) filter (where in_window)::integer as providers,
        count(distinct region_code) filter (where in_window)::integer as regions,
        list(distinct region_code order by region_code)
            filter (where in_window and region_code is not null) as region_codes,
        min(first_noted) as first_seen,
        max(last_noted) as last_seen,
        count(*) filter (where in_prev)::integer as cases_prev,
        count(*) filter (where in_recent)::integer as cases_recent
    from theme_case_rows
    group by theme_key
),

trended as (
    select
        *,
        cases_recent * $days_prev / $days_recent as recent_projected
    from per_theme
),

final as (
    select
        theme_key, kind, cases, providers, regions, region_codes, first_seen, last_seen,
        cases_prev, cases_recent,
        round(recent_projected, 1) as cases_recent_projected,
        case
            when recent_projected >= 1.25 * cases_prev and recent_projected - cases_prev >= 2
                then 'steigend'
            when recent_projected <= 0.8 * cases_prev and cases_prev - recent_projected >= 2
                then 'fallend'
            else 'gleichbleibend'
        end as trend_direction,
        cases >= $min_cases and providers >= $min_providers as active
    from trended
)

select * from final
