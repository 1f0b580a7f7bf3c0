"""The data-quality scorecard per provider and snapshot, and the review state of its flags
(issue 13). One implementation, in SQL; the dashboards, the XLSX of the quarterly round and the
command line read it from here.

`mart.scorecard` (built with the other marts, see transforms/runner.py) has one row per
provider × rule × table × column for the provider's current snapshot:

- `completeness`: filled share of each optional column (`data_contracts.schema.quality_columns`;
  `risk_level`, `phenomenon` only over exit/distancing cases), flagged when it lies more than
  20 points below the network's median for that column;
- `rejected_rate`: rejected rows of the table's current delivery, flagged above 5 %;
- `contact_lag_days` (median days between the last documented contact of an open case, or its
  opening, and the snapshot date; shown, not flagged) and `open_without_contact` (share of open
  cases without a contact for more than `review_due_days`, flagged above 20 %);
- plausibility against the network: `caseload_per_fte` (open cases at the snapshot date per FTE
  then valid), `gap_rate` (goals without a fitting offer), `unknown_share` (`unbekannt` among
  age group and gender), each with the modified z-score 0.6745·(x − median)/MAD over the
  providers (from three on), flagged when |z| > 3.5.

`badness` says how bad a finding is (higher is worse), `trend` compares it with the provider's
previous snapshot (audit.scorecard_history, appended by every build). A flag is a flagged row;
its key is (provider, rule, table, column) — not the delivery — so its review survives
re-deliveries while the finding persists. `flag_states` joins the reviews (kernel/decisions.py)
to the flags: the latest review counts unless the finding got worse than at the review by more
than the rule's tolerance; then the flag is open again.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from data_contracts import load_contract
from data_contracts.schema import quality_columns


@dataclass(frozen=True)
class Rule:
    label: str  # German
    kind: str  # below_network | above | z | info
    threshold: float | None
    tolerance: float | None  # worse by more than this since the review: the flag reopens
    unit: str  # share | days | ratio | z


RULES = {
    "completeness": Rule("Füllgrad optionaler Felder", "below_network", 0.20, 0.05, "share"),
    "rejected_rate": Rule("Anteil abgewiesener Zeilen", "above", 0.05, 0.02, "share"),
    "contact_lag_days": Rule(
        "Tage seit letztem Kontakt (Median, offene Fälle)", "info", None, None, "days"
    ),
    "open_without_contact": Rule(
        "Offene Fälle ohne Kontakt länger als die Wiedervorlagefrist", "above", 0.20, 0.05, "share"
    ),
    "caseload_per_fte": Rule("Fälle je VZÄ (Plausibilität)", "z", 3.5, 0.5, "ratio"),
    "gap_rate": Rule("Ziele ohne passendes Angebot (Plausibilität)", "z", 3.5, 0.5, "share"),
    "unknown_share": Rule("Anteil „unbekannt“ (Plausibilität)", "z", 3.5, 0.5, "share"),
}
ONLY_FOR = {"risk_level": "program = 'pcve'", "phenomenon": "program = 'pcve'"}
MIN_PROVIDERS_Z = 3


def _completeness_sql() -> str:
    parts = []
    for table in load_contract().tables.values():
        cols = quality_columns(table)
        if not cols:
            continue
        items = []
        for c in cols:
            cond = ONLY_FOR.get(c)
            if cond:
                share = (
                    f"count({c}) filter (where {cond}) / nullif(count(*) filter (where {cond}), 0)"
                )
            else:
                share = f"count({c}) / count(*)"
            items.append(f"{{'column_name': '{c}', 'value': ({share})::DOUBLE}}")
        parts.append(
            f"""select provider_id, delivery_id, '{table.name}' as table_name,
                   unnest(vals, recursive := true)
            from (select provider_id, any_value(delivery_id) as delivery_id,
                         [{", ".join(items)}] as vals
                  from staging.{table.name} group by provider_id)"""
        )
    return "\nunion all\n".join(parts)


def _rules_values() -> str:
    rows = []
    for name, r in RULES.items():
        th = "NULL" if r.threshold is None else r.threshold
        tol = "NULL" if r.tolerance is None else r.tolerance
        rows.append(f"('{name}', '{r.kind}', {th}::DOUBLE, {tol}::DOUBLE)")
    return ", ".join(rows)


def findings_sql() -> str:
    """Every finding of every provider's current snapshot, from staging and audit."""
    return f"""
with
params as (
  select * from intermediate.params
),

snap as (
  select c.provider_id, any_value(c.delivery_id) as delivery_id
  from staging.cases as c
  group by c.provider_id
),

snapshots as (
  select s.provider_id, s.delivery_id, coalesce(d.snapshot_on, p.as_of) as snapshot_on
  from snap as s
  cross join params as p
  left join audit.deliveries as d on d.delivery_id = s.delivery_id
),

completeness as (
  select provider_id, delivery_id, 'completeness' as rule, table_name, column_name, value
  from ({_completeness_sql()})
),

rejected as (
  select d.provider_id, d.delivery_id, 'rejected_rate' as rule, d.table_name, '' as column_name,
         (t.rows_rejected / nullif(t.rows_received, 0))::DOUBLE as value
  from (select delivery_id, provider_id, unnest(current_tables) as table_name
        from audit.deliveries) as d
  inner join audit.delivery_tables as t
    on t.delivery_id = d.delivery_id and t.table_name = d.table_name
  where d.provider_id in (select provider_id from snap)
),

open_at_snapshot as (
  select c.provider_id, c.case_id, c.opened_on, s.snapshot_on
  from staging.cases as c
  inner join snapshots as s on s.provider_id = c.provider_id
  where c.opened_on <= s.snapshot_on and (c.closed_on is null or c.closed_on > s.snapshot_on)
),

-- the last contact of the open cases only (of all cases: 0.37 s more at 1,000,000 cases); as
-- before, one snapshot per provider (`snap` groups by provider, delivery_id is a primary key)
last_contact as (
  select k.provider_id, k.case_id, max(k.contact_on) as last_on
  from staging.contacts as k
  inner join open_at_snapshot as o on o.provider_id = k.provider_id and o.case_id = k.case_id
  where k.contact_on <= o.snapshot_on
  group by k.provider_id, k.case_id
),

open_cases as (
  select o.provider_id, (o.snapshot_on - coalesce(l.last_on, o.opened_on))::INTEGER as lag
  from open_at_snapshot as o
  left join last_contact as l on l.provider_id = o.provider_id and l.case_id = o.case_id
),

timeliness as (
  select provider_id, delivery_id, 'contacts' as table_name, '' as column_name,
         unnest(vals, recursive := true)
  from (
    select o.provider_id, s.delivery_id, [
      {{'rule': 'contact_lag_days', 'value': median(o.lag)::DOUBLE}},
      {{'rule': 'open_without_contact',
        'value': avg((o.lag > p.review_due_days)::INTEGER)::DOUBLE}}
    ] as vals
    from open_cases as o
    inner join snapshots as s on s.provider_id = o.provider_id
    cross join params as p
    group by o.provider_id, s.delivery_id, p.review_due_days
  )
),

fte as (
  select f.provider_id, sum(f.fte) as fte
  from staging.staffing as f
  inner join snapshots as s on s.provider_id = f.provider_id
  where f.valid_from <= s.snapshot_on and (f.valid_to is null or f.valid_to >= s.snapshot_on)
  group by f.provider_id
),

plausibility as (
  select s.provider_id, s.delivery_id, 'caseload_per_fte' as rule, 'staffing' as table_name,
         '' as column_name, (n.n / nullif(f.fte, 0))::DOUBLE as value
  from snapshots as s
  left join (select provider_id, count(*) as n from open_cases group by provider_id) as n
    on n.provider_id = s.provider_id
  left join fte as f on f.provider_id = s.provider_id
  union all
  select s.provider_id, s.delivery_id, 'gap_rate', 'goals', '',
         avg((not g.offer_available)::INTEGER)::DOUBLE
  from staging.goals as g inner join snapshots as s on s.provider_id = g.provider_id
  group by s.provider_id, s.delivery_id
  union all
  select s.provider_id, s.delivery_id, 'unknown_share', 'cases', '',
         ((count(*) filter (where c.age_group = 'unbekannt')
           + count(*) filter (where c.gender = 'unbekannt'))
          / nullif(count(c.age_group) + count(c.gender), 0))::DOUBLE
  from staging.cases as c inner join snapshots as s on s.provider_id = c.provider_id
  group by s.provider_id, s.delivery_id
),

findings as (
  select provider_id, delivery_id, rule, table_name, column_name, value from completeness
  union all
  select provider_id, delivery_id, rule, table_name, column_name, value from rejected
  union all
  select provider_id, delivery_id, rule, table_name, column_name, value from timeliness
  union all
  select provider_id, delivery_id, rule, table_name, column_name, value from plausibility
),

final as (
  select f.*, s.snapshot_on
  from findings as f
  left join snapshots as s on s.provider_id = f.provider_id
)

select * from final
"""


def scorecard_sql() -> str:
    return f"""
with
findings as (
  select * from intermediate.quality_findings
),

network as (
  select rule, table_name, column_name, median(value) as network_median,
         mad(value) as mad, count(value) as providers
  from findings
  group by rule, table_name, column_name
),

rules as (
  select * from (values {_rules_values()}) as r(rule, kind, threshold, tolerance)
),

scored as (
  select
    f.provider_id,
    f.delivery_id,
    coalesce(d.snapshot_on, f.snapshot_on) as snapshot_on,
    f.rule,
    f.table_name,
    f.column_name,
    f.value,
    n.network_median,
    case when n.providers >= {MIN_PROVIDERS_Z} and n.mad > 0
         then 0.6745 * (f.value - n.network_median) / n.mad end as z_score,
    r.kind,
    r.threshold,
    r.tolerance
  from findings as f
  inner join rules as r on r.rule = f.rule
  inner join network as n
    on n.rule = f.rule and n.table_name = f.table_name and n.column_name = f.column_name
  left join audit.deliveries as d on d.delivery_id = f.delivery_id
),

judged as (
  select
    *,
    case kind
      when 'below_network' then network_median - value
      when 'above' then value
      when 'z' then abs(z_score)
    end as badness
  from scored
),

previous as (
  select h.provider_id, h.rule, h.table_name, h.column_name, h.value as previous_value,
         h.badness as previous_badness, h.snapshot_on as previous_snapshot_on
  from audit.scorecard_history as h
  inner join judged as j
    on j.provider_id = h.provider_id and j.rule = h.rule and j.table_name = h.table_name
   and j.column_name = h.column_name
  where h.delivery_id is distinct from j.delivery_id and h.snapshot_on <= j.snapshot_on
  qualify row_number() over (
    partition by h.provider_id, h.rule, h.table_name, h.column_name
    order by h.snapshot_on desc, h.recorded_at desc) = 1
),

final as (
  select
    j.provider_id,
    j.delivery_id,
    j.snapshot_on,
    j.rule,
    j.table_name,
    j.column_name,
    j.value,
    j.network_median,
    j.z_score,
    j.badness,
    j.threshold,
    j.tolerance,
    coalesce(j.badness > j.threshold, false) as flagged,
    p.previous_value,
    p.previous_snapshot_on,
    case
      when p.previous_badness is null or j.badness is null then null
      when j.badness > p.previous_badness + j.tolerance then 'schlechter'
      when j.badness < p.previous_badness - j.tolerance then 'besser'
      else 'unverändert'
    end as trend
  from judged as j
  left join previous as p
    on p.provider_id = j.provider_id and p.rule = j.rule and p.table_name = j.table_name
   and p.column_name = j.column_name
)

select * from final order by provider_id, rule, table_name, column_name
"""


@dataclass(frozen=True)
class ScorecardMart:
    schema: str
    name: str
    description: str
    sql: str


MARTS = (
    ScorecardMart(
        "intermediate",
        "quality_findings",
        "Every data-quality finding of each provider's current snapshot, read from staging as"
        " delivered, not cut at as_of (transforms/scorecard.py).",
        findings_sql(),
    ),
    ScorecardMart(
        "mart",
        "scorecard",
        "Data-quality scorecard per provider x rule x table x column of the current snapshot"
        " (transforms/scorecard.py).",
        scorecard_sql(),
    ),
)


def record_history(con: duckdb.DuckDBPyConnection) -> None:
    """Append the scorecard of snapshots not yet in audit.scorecard_history (the trend's base)."""
    con.execute(
        """INSERT INTO audit.scorecard_history
        SELECT provider_id, delivery_id, snapshot_on, rule, table_name, column_name, value,
               badness, flagged, now()::TIMESTAMP
        FROM mart.scorecard AS s
        WHERE NOT EXISTS (
          SELECT 1 FROM audit.scorecard_history AS h
          WHERE h.provider_id = s.provider_id AND h.delivery_id IS NOT DISTINCT FROM s.delivery_id
            AND h.rule = s.rule AND h.table_name = s.table_name
            AND h.column_name = s.column_name)"""
    )


REVIEW_COLUMNS = [
    "provider_id",
    "rule",
    "table_name",
    "column_name",
    "state",
    "reason",
    "user",
    "at",
    "badness",
]


def flag_states(
    con: duckdb.DuckDBPyConnection, reviews: pd.DataFrame, where: str = "true", params=None
) -> pd.DataFrame:
    """The flags of mart.scorecard (rows with `flagged`) with their review state: the latest
    review of the key (`reviews`: kernel.decisions entries of kind `flag`), unless the finding
    got worse than at that review by more than the rule's tolerance (then `offen` again)."""
    frame = (
        reviews.reindex(columns=REVIEW_COLUMNS)
        if len(reviews)
        else pd.DataFrame(columns=REVIEW_COLUMNS)
    )
    frame = frame.astype({"badness": "float64", "at": "string"})
    con.register("flag_reviews", frame)
    try:
        return con.execute(
            f"""WITH latest AS (
                  SELECT * FROM flag_reviews
                  QUALIFY row_number() OVER (
                    PARTITION BY provider_id, rule, table_name, column_name ORDER BY "at" DESC) = 1
                )
                SELECT s.provider_id, s.rule, s.table_name, s.column_name, s.delivery_id,
                       s.snapshot_on, s.value, s.network_median, s.z_score, s.badness,
                       s.threshold, s.trend,
                       CASE
                         WHEN r.state IS NULL THEN 'offen'
                         WHEN r.state <> 'offen' AND s.badness > r.badness + s.tolerance
                           THEN 'offen'
                         ELSE r.state
                       END AS state,
                       r.state IS NOT NULL AND r.state <> 'offen'
                         AND s.badness > r.badness + s.tolerance AS reopened,
                       r.reason AS review_reason, r."user" AS reviewed_by,
                       r."at" AS reviewed_at, r.badness AS reviewed_badness
                FROM mart.scorecard AS s
                LEFT JOIN latest AS r
                  ON r.provider_id = s.provider_id AND r.rule = s.rule
                 AND r.table_name = s.table_name
                 AND r.column_name IS NOT DISTINCT FROM s.column_name
                WHERE s.flagged AND {where}
                ORDER BY s.provider_id, s.rule, s.table_name, s.column_name""",
            params or [],
        ).df()
    finally:
        con.unregister("flag_reviews")
