-- Coded theme hits: every barrier noted up to as_of, keyed by its (barrier_code, domain) pair.
-- The theme id is readable and follows from the pair alone, so it is stable across runs:
--   T-<barrier_code>-<domain>   (domain empty: T-<barrier_code>-ohne_bereich)
-- The catch-all barrier code 'sonstiges' names no structural problem and forms no coded theme
-- (what such notes say is found by the text themes).
-- Params: $as_of, $excluded_barriers (VARCHAR[])
with barriers as (
    select provider_id, case_id, noted_on, barrier_code, domain
    from staging.barriers
    where noted_on <= $as_of
      and barrier_code is not null
      and not list_contains($excluded_barriers, barrier_code)
),

final as (
    select
        'T-' || barrier_code || '-' || coalesce(domain, 'ohne_bereich') as theme_key,
        'code' as kind,
        provider_id,
        case_id,
        noted_on,
        barrier_code,
        domain,
        cast(null as double) as score
    from barriers
)

select * from final
