"""Performance sanity check for the marts: fill staging with N synthetic cases (set-based
DuckDB SQL, seconds even for a million) and time `build_marts`.

    python -m benchmarks.staging_fill --cases 100000
    python -m benchmarks.staging_fill --cases 1000000 --db /tmp/bench.duckdb

Not a timed unit test: it prints the fill time, the build time per model and in total, and
the row counts. The data is shaped like the exchange format (about 2 goals, 1.5 referrals,
6 contacts and 1 barrier per case, relapses for 5 %, person keys for 80 % with repeat
clients across providers, re-openings through previous_case_id, staff turnover), not like
any real network; realistic demo exports come from `lagebild generate`.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import duckdb

from data_contracts.schema import META_DDL, staging_ddl
from kernel.settings import Settings
from kernel.warehouse import connect

FILL_SQL = """
SELECT setseed(0.42);

CREATE OR REPLACE TEMP TABLE bench_base AS
SELECT
  i,
  'T' || lpad((i % $providers)::VARCHAR, 3, '0') AS provider_id,
  'F' || i AS case_id,
  ['kim', 'jmd', 'mbe', 'pcve', 'sonstiges'][1 + (hash(i, 1) % 5)::INTEGER] AS program,
  ['05111', '05112', '05113', '05315', '05334', '05358'][1 + (hash(i, 2) % 6)::INTEGER]
    AS region_code,
  (hash(i, 3) % 12)::INTEGER AS worker_no,
  ['information', 'verweisberatung', 'case_management'][1 + (hash(i, 4) % 3)::INTEGER]
    AS intensity,
  DATE '2021-01-01' + (random() * ($as_of - DATE '2021-01-01'))::INTEGER AS opened_on,
  (-ln(random() + 1e-9) * 210)::INTEGER AS duration,
  random() AS u_close,
  random() AS u_person,
  random() AS u_prev,
  random() AS u_relapse
FROM range($cases) t(i);

INSERT INTO staging.cases
SELECT
  provider_id,
  case_id,
  CASE WHEN u_person < 0.8 THEN 'P' || (hash(i, 5) % ($cases * 3 // 4)) END AS person_key,
  program,
  region_code,
  provider_id || '-' || program || '-' || region_code || '-' || worker_no AS caseworker_id,
  opened_on,
  CASE WHEN u_close < 0.85 THEN opened_on + duration::INTEGER END AS closed_on,
  intensity,
  NULL, NULL, NULL,
  CASE WHEN u_close < 0.85
    THEN ['ziel_erreicht', 'beendigung_klient', 'mangelnde_kooperation',
          'strukturelle_hindernisse', 'kein_kontakt', 'weitervermittlung',
          'sonstiges'][1 + (hash(i, 6) % 7)::INTEGER]
  END AS close_reason,
  CASE WHEN u_prev < 0.05 AND i >= $providers THEN 'F' || (i - $providers) END,
  CASE WHEN program = 'pcve' THEN ['niedrig', 'mittel', 'hoch'][1 + (hash(i, 7) % 3)::INTEGER] END,
  NULL,
  'bench'
FROM bench_base;

INSERT INTO staging.staffing
SELECT DISTINCT
  provider_id, caseworker_id, program, region_code,
  DATE '2020-07-01' + (hash(caseworker_id, 8) % 200)::INTEGER AS valid_from,
  CASE WHEN hash(caseworker_id, 9) % 5 = 0
    THEN DATE '2023-01-01' + (hash(caseworker_id, 10) % 600)::INTEGER END AS valid_to,
  [0.5, 0.75, 0.8, 1.0][1 + (hash(caseworker_id, 11) % 4)::INTEGER] AS fte,
  'bench'
FROM staging.cases;

INSERT INTO staging.goals
SELECT
  c.provider_id, c.case_id, 'Z' || g AS goal_id,
  ['aufenthalt', 'wohnen', 'lebensunterhalt', 'gesundheit_psychisch', 'sprache',
   'ausbildung_arbeit', 'familie_kinderbetreuung', 'schulden']
    [1 + (hash(c.case_id, g) % 8)::INTEGER],
  c.opened_on + (g * 20)::INTEGER AS set_on,
  NULL,
  ['offen', 'erreicht', 'teilweise', 'nicht_erreicht'][1 + (hash(c.case_id, g, 1) % 4)::INTEGER],
  CASE WHEN hash(c.case_id, g, 2) % 2 = 0 THEN c.opened_on + (g * 20)::INTEGER + 60 END,
  hash(c.case_id, g, 3) % 10 >= 3 AS offer_available,
  'bench'
FROM staging.cases c, range((hash(c.case_id, 12) % 5)::INTEGER) t(g);

INSERT INTO staging.referrals
SELECT
  c.provider_id, c.case_id, 'V' || r, NULL,
  ['psychotherapie', 'integrationskurs', 'sprachkurs', 'kita_platz', 'wohnraum',
   'schuldnerberatung', 'rechtsberatung'][1 + (hash(c.case_id, r, 4) % 7)::INTEGER],
  c.opened_on + (r * 15)::INTEGER AS requested_on,
  CASE WHEN hash(c.case_id, r, 5) % 10 < 6
    THEN c.opened_on + (r * 15)::INTEGER + (hash(c.case_id, r, 6) % 150)::INTEGER END,
  CASE WHEN hash(c.case_id, r, 5) % 10 < 6 THEN 'begonnen'
       ELSE ['warteliste', 'abgelehnt', 'kein_angebot', 'nicht_wahrgenommen']
            [1 + (hash(c.case_id, r, 7) % 4)::INTEGER] END,
  'bench'
FROM staging.cases c, range((hash(c.case_id, 13) % 4)::INTEGER) t(r);

INSERT INTO staging.contacts
SELECT
  c.provider_id, c.case_id,
  c.opened_on + (k * 25)::INTEGER AS contact_on,
  ['erstgespraech', 'assessment', 'hilfeplan', 'linking', 'monitoring', 'reassessment',
   'evaluation', 'abschluss', 'nachgespraech'][1 + k % 9],
  'bench'
FROM staging.cases c, range((hash(c.case_id, 14) % 12)::INTEGER) t(k);

INSERT INTO staging.barriers
SELECT
  c.provider_id, c.case_id, c.opened_on + 10,
  ['kein_angebot', 'wartezeit', 'zustaendigkeit_unklar', 'sprachbarriere', 'kosten']
    [1 + (hash(c.case_id, 15) % 5)::INTEGER],
  'wohnen',
  'Freitext wird nie in die Marts übernommen.',
  'bench'
FROM staging.cases c
WHERE hash(c.case_id, 16) % 10 < 7;

INSERT INTO staging.relapses
SELECT
  b.provider_id, b.case_id, b.opened_on + (hash(b.case_id, 17) % 900)::INTEGER,
  ['straftat_extremistisch', 'straftat_gewalt', 'straftat_sonstige', 'szenekontakt']
    [1 + (hash(b.case_id, 18) % 4)::INTEGER],
  'beratung',
  'bench'
FROM bench_base b
WHERE b.u_relapse < 0.05;
"""


def fill_staging(con: duckdb.DuckDBPyConnection, cases: int, providers: int, as_of: date) -> None:
    """Create staging (and meta) and fill it with `cases` synthetic cases."""
    con.execute(staging_ddl())
    con.execute(META_DDL)
    sql = (
        FILL_SQL.replace("$providers", str(int(providers)))
        .replace("$cases", str(int(cases)))
        .replace("$as_of", f"DATE '{as_of.isoformat()}'")
    )
    con.execute(sql)
    con.execute("DELETE FROM meta.data_basis")
    con.execute("INSERT INTO meta.data_basis (as_of, as_of_source) VALUES (?, 'bench')", [as_of])


def main(argv: list[str] | None = None) -> int:
    from transforms.runner import build_marts

    parser = argparse.ArgumentParser(description="Time the mart build on synthetic staging.")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--providers", type=int, default=20)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 9, 15))
    parser.add_argument("--db", type=Path, help="DuckDB file (default: in memory)")
    args = parser.parse_args(argv)

    if args.db and args.db.exists():
        args.db.unlink()
    con = connect(args.db)
    started = time.perf_counter()
    fill_staging(con, args.cases, args.providers, args.as_of)
    fill = time.perf_counter() - started
    counts = {
        t: con.execute(f"SELECT count(*) FROM staging.{t}").fetchall()[0][0]
        for t in ("cases", "goals", "referrals", "contacts", "barriers", "staffing", "relapses")
    }
    print(f"staging filled in {fill:.1f} s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))

    started = time.perf_counter()
    runs = build_marts(con, Settings(workspace=Path(".")), args.as_of)
    total = time.perf_counter() - started
    for run in runs:
        rows = "" if run.rows is None else f"{run.rows:>12,} rows"
        print(f"  {run.key:<32} {run.materialized:<5} {run.seconds:7.2f} s {rows}")
    print(f"marts built in {total:.1f} s for {args.cases:,} cases")

    from transforms.checks import run_checks

    started = time.perf_counter()
    failed = [o for o in run_checks(con) if not o.passed]
    print(
        f"checks in {time.perf_counter() - started:.1f} s: "
        + (", ".join(f"{o.rule.table}.{o.rule.name} ({o.failing})" for o in failed) or "all pass")
    )
    con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
