-- Exemplary cases for case reconstruction (Fallrekonstruktion): per theme the window cases
-- most typical of it (highest score, see theme_cases.sql), taken round-robin across providers
-- so that the working group sees the theme in several organisations. Ties: latest note in the
-- window first, then the keys. Pseudonymous keys only.
-- Input: theme_case_rows. Params: $n
with ranked as (
    select
        theme_key, provider_id, case_id, score, last_noted_window,
        row_number() over (
            partition by theme_key, provider_id
            order by score desc nulls last, last_noted_window desc, case_id
        ) as provider_rank
    from theme_case_rows
    where in_window
),

ordered as (
    select
        *,
        row_number() over (
            partition by theme_key
            order by provider_rank, score desc nulls last, last_noted_window desc,
                     provider_id, case_id
        ) as exemplary_rank
    from ranked
),

final as (
    select theme_key, provider_id, case_id, exemplary_rank::integer as exemplary_rank, score
    from ordered
    where exemplary_rank <= $n
)

select * from final
