"""Generative themes: the build (coded themes in SQL, text themes from the notes) that writes
``mart.themes`` and ``mart.theme_cases`` and keeps the register (Themenspeicher) in step.

In the KIM NRW process working groups reconstruct typical cases (Fallrekonstruktion) to find
structural problems that recur across cases and organisations, prioritise them, keep the rest
in the theme store, hand complex ones to a project group (Projektgruppe) and bring solutions to
the steering group (Lenkungsgruppe). Lagebild shows the evidence and keeps the register.
Definitions: ../shared/spec/metrics.md ("Generative themes") and docs/decisions.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from data_contracts.contract import load_contract
from kernel.settings import Settings
from kernel.warehouse import current_as_of
from kernel.workspace import Workspace
from transforms.themes import read_sql, text_memo
from transforms.themes import register as reg
from transforms.themes.matching import coded_theme_id, match_topics, new_text_theme_id
from transforms.themes.store import open_register, workspace_of
from transforms.themes.text import fit_params, fit_text_topics

TEXT_LABEL_TERMS = 4  # terms in a text theme's label
TEXT_MART_TERMS = 8  # terms listed in mart.themes.terms
EXCLUDED_BARRIERS = ("sonstiges",)  # catch-all code: no coded theme (see coded_hits.sql)
# where the text model's notes come from: every non-empty note up to as_of (the statements
# reading them add whether a note is in the window)
WINDOW_NOTES = """
    FROM staging.barriers
    WHERE noted_on <= $as_of AND note IS NOT NULL AND trim(note) <> ''"""
# --------------------------------------------------------------------------------------------
# Window


# Register columns carried into mart.themes and the dashboard's live view.
REGISTER_COLUMNS = (
    "theme_id",
    "kind",
    "barrier_code",
    "domain",
    "label",
    "status",
    "owner",
    "active",
    "first_as_of",
    "last_active_as_of",
)


@dataclass(frozen=True)
class ThemeWindow:
    """The theme window: ``quarters`` calendar quarters up to as_of (the quarter containing
    as_of is the last one and partial). ``recent_start`` opens the second half used for the
    trend."""

    start: date
    recent_start: date
    end: date  # = as_of, inclusive

    @property
    def days_prev(self) -> int:
        return (self.recent_start - self.start).days

    @property
    def days_recent(self) -> int:
        return (self.end - self.recent_start).days + 1


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _add_quarters(q_start: date, n: int) -> date:
    months = q_start.year * 12 + (q_start.month - 1) + 3 * n
    return date(months // 12, months % 12 + 1, 1)


def theme_window(as_of: date, quarters: int = 4) -> ThemeWindow:
    if quarters < 2:
        raise ValueError("theme_window_quarters muss mindestens 2 sein (Trend: zwei Hälften).")
    q = _quarter_start(as_of)
    start = _add_quarters(q, -(quarters - 1))
    recent_start = _add_quarters(q, -(quarters // 2 - 1))
    return ThemeWindow(start=start, recent_start=recent_start, end=as_of)


# --------------------------------------------------------------------------------------------
# Build (the asset's work; callable on any warehouse connection)


def _coded_label(barrier_code: str, domain: str | None) -> str:
    contract = load_contract()
    barrier = contract.code_label("barrier", barrier_code)
    dom = contract.code_label("domain", domain) if domain else "ohne Lebensbereich"
    return f"{barrier} – {dom}"


def _text_label(labels: list[str]) -> str:
    return ", ".join(labels[:TEXT_LABEL_TERMS])


MART_DDL = """
CREATE SCHEMA IF NOT EXISTS mart;
CREATE OR REPLACE TABLE mart.themes (
  theme_id VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  label VARCHAR NOT NULL,
  barrier_code VARCHAR,
  domain VARCHAR,
  terms VARCHAR[],
  cases INTEGER NOT NULL,
  providers INTEGER NOT NULL,
  regions INTEGER NOT NULL,
  region_codes VARCHAR[],
  first_seen DATE,
  last_seen DATE,
  trend VARCHAR,
  cases_prev INTEGER NOT NULL,
  cases_recent INTEGER NOT NULL,
  cases_recent_projected DOUBLE,
  exemplary_cases VARCHAR[],
  status VARCHAR NOT NULL,
  owner VARCHAR,
  active BOOLEAN NOT NULL,
  first_as_of DATE,
  last_active_as_of DATE,
  window_start DATE NOT NULL,
  window_end DATE NOT NULL,
  recent_start DATE NOT NULL,
  min_cases INTEGER NOT NULL,
  min_providers INTEGER NOT NULL
);
CREATE OR REPLACE TABLE mart.theme_cases (
  theme_id VARCHAR NOT NULL,
  provider_id VARCHAR NOT NULL,
  case_id VARCHAR NOT NULL,
  region_code VARCHAR,
  first_noted DATE,
  last_noted DATE,
  in_prev BOOLEAN,
  in_recent BOOLEAN,
  score DOUBLE,
  exemplary_rank INTEGER
);
"""


def will_fit_text_model(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether this run's themes will fit the text model: not where there is no note, nor
    where the window's notes, the parameters and the code are those of the fit kept in the
    memo (`text_memo.notes_key`). Only then does the run load scikit-learn and the lemmatiser
    beforehand (pipelines.prewarm). One read-only pass over the notes (where a fit is kept:
    1,000,000 cases 0.3 s, beside the suites). A wrong answer only costs time: the themes
    step decides by the memo's own key (a kept fit and no note left: loaded for nothing)."""
    as_of = current_as_of(con)
    if not text_memo.foresees_reuse(con):  # nothing kept (a new workspace): a fit, if notes
        (notes,) = con.execute(f"SELECT count(*) {WINDOW_NOTES}", {"as_of": as_of}).fetchall()[0]
        return notes > 0
    win = theme_window(as_of, settings.theme_window_quarters)
    notes = text_memo.notes_key(
        con,
        fit_params(settings.theme_text_topics, settings.seed),
        f"SELECT note, noted_on >= $window_start AS in_window {WINDOW_NOTES}",
        {"as_of": as_of, "window_start": win.start},
    )
    return not text_memo.foresees_reuse(con, notes)


def build_themes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    register_workspace: str | Path | Workspace | None = None,
    run_at: datetime | None = None,
) -> dict:
    """Compute coded and text themes on the warehouse ``con``, update the register and write
    ``mart.themes`` and ``mart.theme_cases``. Returns a summary for the run's metadata."""
    ws = workspace_of(register_workspace or settings.workspace)
    run_at = run_at or datetime.now().replace(microsecond=0)
    as_of = current_as_of(con)
    win = theme_window(as_of, settings.theme_window_quarters)
    params = {"as_of": as_of, "window_start": win.start, "recent_start": win.recent_start}
    t0 = time.monotonic()

    # 1. Hits: coded pairs (SQL) ...
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE theme_hits AS {read_sql('coded_hits')}",
        {"as_of": as_of, "excluded_barriers": list(EXCLUDED_BARRIERS)},
    )
    # ... and text topics (notes up to as_of; the model is fitted on the window's notes).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE theme_notes AS
        SELECT row_number() OVER (ORDER BY provider_id, case_id, noted_on, barrier_code,
                                           domain, note) AS note_id,
               provider_id, case_id, noted_on, note, noted_on >= $window_start AS in_window
        {WINDOW_NOTES}
        """,
        {"as_of": as_of, "window_start": win.start},
    )
    text = fit_text_topics(con, n_topics=settings.theme_text_topics, seed=settings.seed, reuse=True)
    con.execute(
        """
        INSERT INTO theme_hits
        SELECT 'topic:' || t.topic, 'text', n.provider_id, n.case_id, n.noted_on, NULL, NULL,
               t.score
        FROM theme_notes n JOIN text_note_topics t USING (note_id)
        """
    )
    t_text = time.monotonic() - t0

    # 2. Once per case, then figures per theme.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE theme_case_rows AS {read_sql('theme_cases')}", params
    )
    figures = con.execute(
        read_sql("theme_figures"),
        {
            "min_cases": settings.theme_min_cases,
            "min_providers": settings.theme_min_providers,
            "days_prev": float(win.days_prev),
            "days_recent": float(win.days_recent),
        },
    ).df()
    figures = figures.set_index("theme_key")

    # 3. Ids. Coded: from the pair. Text: matched to the register's text themes by their terms.
    topics = text.topics.set_index("topic") if not text.topics.empty else text.topics
    rows = []
    for key in figures.index[figures["kind"] == "code"]:
        barrier_code, domain = _split_coded_key(key)
        rows.append(
            {
                "theme_key": key,
                "theme_id": key,
                "kind": "code",
                "barrier_code": barrier_code,
                "domain": domain,
                "label": _coded_label(barrier_code, domain),
                "terms": None,
                "term_keys": None,
            }
        )
    with open_register(ws) as rcon:
        registered = reg.themes_frame(rcon)
        previous_text = {
            r.theme_id: list(r.term_keys)
            for r in registered.itertuples()
            if r.kind == "text" and r.term_keys is not None
        }
        current = {int(t): list(topics.loc[t, "keys"]) for t in topics.index}
        matched = match_topics(current, previous_text)
        taken = set(registered["theme_id"])
        for t in sorted(current):
            key = f"topic:{t}"
            f = figures.loc[key] if key in figures.index else None
            is_active = bool(f is not None and f["active"])
            if t in matched:
                theme_id = matched[t]
            elif is_active:
                theme_id = new_text_theme_id(current[t], taken)
                taken.add(theme_id)
            else:
                continue  # a topic below the thresholds that no registered theme knows
            rows.append(
                {
                    "theme_key": key,
                    "theme_id": theme_id,
                    "kind": "text",
                    "barrier_code": None,
                    "domain": None,
                    "label": _text_label(list(topics.loc[t, "labels"])),
                    "terms": list(topics.loc[t, "terms"]),
                    "term_keys": list(topics.loc[t, "keys"]),
                }
            )
        run = pd.DataFrame(
            rows,
            columns=[
                "theme_key",
                "theme_id",
                "kind",
                "barrier_code",
                "domain",
                "label",
                "terms",
                "term_keys",
            ],
        )
        run = run.join(figures, on="theme_key", rsuffix="_fig")
        for col in ("cases", "providers", "regions"):
            run[col] = run[col].fillna(0).astype(int)
        run["active"] = run["active"].fillna(False).astype(bool)
        registered = reg.sync_run(rcon, run, as_of=as_of, run_at=run_at)

    # 4. mart.theme_cases: window members of registered themes, with exemplary ranks.
    id_map = run[run["theme_id"].isin(registered["theme_id"])][["theme_key", "theme_id"]]
    con.register("theme_id_map", id_map)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE theme_case_rows_reg AS
        SELECT m.theme_id AS theme_key, r.* EXCLUDE (theme_key)
        FROM theme_case_rows r JOIN theme_id_map m USING (theme_key)
        """
    )
    con.unregister("theme_id_map")
    con.execute("DROP TABLE theme_case_rows")
    con.execute("ALTER TABLE theme_case_rows_reg RENAME TO theme_case_rows")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE theme_exemplary AS {read_sql('exemplary_cases')}",
        {"n": settings.theme_exemplary_cases},
    )
    con.execute(MART_DDL)
    con.execute(
        """
        INSERT INTO mart.theme_cases
        SELECT r.theme_key, r.provider_id, r.case_id, r.region_code, r.first_noted,
               r.last_noted, r.in_prev, r.in_recent, r.score, e.exemplary_rank
        FROM theme_case_rows r
        LEFT JOIN theme_exemplary e USING (theme_key, provider_id, case_id)
        WHERE r.in_window
        ORDER BY r.theme_key, e.exemplary_rank NULLS LAST, r.provider_id, r.case_id
        """
    )

    # 5. mart.themes: every registered theme, figures of this run (zero when not found).
    reg_cols = list(REGISTER_COLUMNS)
    fig_cols = [
        "theme_id",
        "terms",
        "cases",
        "providers",
        "regions",
        "region_codes",
        "first_seen",
        "last_seen",
        "trend_direction",
        "cases_prev",
        "cases_recent",
        "cases_recent_projected",
    ]
    mart = registered[reg_cols].merge(run[fig_cols], on="theme_id", how="left")
    mart["terms"] = [
        list(t)[:TEXT_MART_TERMS] if isinstance(t, list) else None for t in mart["terms"]
    ]
    con.register("theme_mart_df", mart)
    con.execute(
        """
        INSERT INTO mart.themes
        SELECT m.theme_id, m.kind, m.label, m.barrier_code, m.domain,
               CAST(m.terms AS VARCHAR[]),
               coalesce(m.cases, 0), coalesce(m.providers, 0), coalesce(m.regions, 0),
               CAST(m.region_codes AS VARCHAR[]),
               CAST(m.first_seen AS DATE), CAST(m.last_seen AS DATE),
               coalesce(m.trend_direction, 'gleichbleibend'),
               coalesce(m.cases_prev, 0), coalesce(m.cases_recent, 0),
               m.cases_recent_projected,
               coalesce(e.keys, CAST([] AS VARCHAR[])),
               m.status, m.owner, m.active,
               CAST(m.first_as_of AS DATE), CAST(m.last_active_as_of AS DATE),
               $window_start, $window_end, $recent_start, $min_cases, $min_providers
        FROM theme_mart_df m
        LEFT JOIN (
            SELECT theme_key AS theme_id,
                   list(provider_id || ':' || case_id ORDER BY exemplary_rank) AS keys
            FROM theme_exemplary GROUP BY theme_key
        ) e USING (theme_id)
        ORDER BY m.active DESC, m.kind, m.cases DESC NULLS LAST, m.theme_id
        """,
        {
            "window_start": win.start,
            "window_end": win.end,
            "recent_start": win.recent_start,
            "min_cases": settings.theme_min_cases,
            "min_providers": settings.theme_min_providers,
        },
    )
    con.unregister("theme_mart_df")
    for tmp in (
        "theme_hits",
        "theme_notes",
        "theme_case_rows",
        "theme_exemplary",
        "text_docs",
        "text_doc_terms",
        "text_note_topics",
    ):
        con.execute(f"DROP TABLE IF EXISTS {tmp}")

    counts = con.execute(
        """SELECT count(*) FILTER (WHERE active AND kind = 'code'),
                  count(*) FILTER (WHERE active AND kind = 'text'),
                  count(*) FILTER (WHERE NOT active), count(*)
           FROM mart.themes"""
    ).fetchone()
    return {
        "as_of": as_of.isoformat(),
        "window": f"{win.start.isoformat()} – {win.end.isoformat()}",
        "coded_active": counts[0],
        "text_active": counts[1],
        "inactive": counts[2],
        "registered": counts[3],
        "text_documents": text.documents,
        "text_fit_notes": text.fit_notes,
        "text_vocabulary": text.vocabulary,
        "text_assigned_documents": text.assigned,
        "text_model": "übernommen" if text.reused else "angepasst",
        "seconds": round(time.monotonic() - t0, 2),
        "text_seconds": round(t_text, 2),
    }


def _split_coded_key(key: str) -> tuple[str, str | None]:
    """(barrier_code, domain) of a coded theme key (codes may contain '_' but never '-')."""
    _, barrier_code, domain = key.split("-", 2)
    if coded_theme_id(barrier_code, None) == key:
        return barrier_code, None
    return barrier_code, domain
