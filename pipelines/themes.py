"""Generative themes (Generative Themen) and the theme register (Themenspeicher).

In the KIM NRW process working groups reconstruct typical cases (Fallrekonstruktion) to find
structural problems that recur across cases and organisations, prioritise them, keep the rest
in the theme store, hand complex ones to a project group (Projektgruppe) and bring solutions to
the steering group (Lenkungsgruppe). Lagebild shows the evidence and keeps the register.

* ``mart.themes`` (one row per registered theme) and ``mart.theme_cases`` (theme x case in the
  window, with typicality score and exemplary rank), built by the Dagster asset
  ``["mart", "themes"]``; definitions in ../shared/spec/metrics.md and docs/decisions.md.
* The register lives in ``WORKSPACE/themenspeicher.duckdb`` (never in the warehouse), written
  with short connections under its own lock, so the dashboard can edit it during a run.
* Functions for the dashboard and the command line: ``list_themes``, ``set_theme_status``,
  ``theme_history``, ``theme_observations``, ``exemplary_cases``, ``theme_cases``,
  ``cli_themes``.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from data_contracts.contract import load_contract
from kernel.settings import Settings, load_settings
from kernel.warehouse import WorkspaceBusy, connect, current_as_of, reader, write_lock
from kernel.workspace import Workspace
from transforms.themes import read_sql
from transforms.themes import register as reg
from transforms.themes.matching import coded_theme_id, match_topics, new_text_theme_id
from transforms.themes.text import fit_text_topics

STATUSES = reg.STATUSES
STATUS_LABELS = reg.STATUS_LABELS
UnknownTheme = reg.UnknownTheme
KIND_LABELS = {"code": "kodiert", "text": "Text"}
TEXT_LABEL_TERMS = 4  # terms in a text theme's label
TEXT_MART_TERMS = 8  # terms listed in mart.themes.terms
REGISTER_LOCK_WAIT_S = 15.0
EXCLUDED_BARRIERS = ("sonstiges",)  # catch-all code: no coded theme (see coded_hits.sql)

log = logging.getLogger("lagebild.themes")


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
# Register access (its own file and lock; short connections)


def _workspace(workspace: str | Path | Workspace) -> Workspace:
    if isinstance(workspace, Workspace):
        return workspace
    return Workspace(Path(workspace).resolve())


def register_lock_path(ws: Workspace) -> Path:
    return ws.register_db_path.with_suffix(".lock")


@contextlib.contextmanager
def open_register(workspace: str | Path | Workspace) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-write connection to the register under its lock (waits up to 15 s)."""
    ws = _workspace(workspace)
    ws.root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        deadline = time.monotonic() + REGISTER_LOCK_WAIT_S
        while True:
            try:
                stack.enter_context(write_lock(register_lock_path(ws)))
                break
            except WorkspaceBusy as exc:
                if time.monotonic() > deadline:
                    raise WorkspaceBusy(
                        "Der Themenspeicher wird gerade von einem anderen Vorgang bearbeitet."
                        " Bitte versuchen Sie es gleich noch einmal."
                    ) from exc
                time.sleep(0.1)
        con = connect(ws.register_db_path)
        stack.callback(con.close)
        reg.ensure_schema(con)
        yield con


@contextlib.contextmanager
def _mart_reader(source) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The marts to read: a given connection, else the published copy, else the warehouse."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    ws = _workspace(source)
    for path in (ws.published_db_path, ws.db_path):
        if path.exists():
            with reader(path) as con:
                yield con
            return
    yield None


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
        > 0
    )


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


def build_themes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    register_workspace: str | Path | Workspace | None = None,
    run_at: datetime | None = None,
) -> dict:
    """Compute coded and text themes on the warehouse ``con``, update the register and write
    ``mart.themes`` and ``mart.theme_cases``. Returns a summary for the run's metadata."""
    ws = _workspace(register_workspace or settings.workspace)
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
        """
        CREATE OR REPLACE TEMP TABLE theme_notes AS
        SELECT row_number() OVER (ORDER BY provider_id, case_id, noted_on, barrier_code,
                                           domain, note) AS note_id,
               provider_id, case_id, noted_on, note, noted_on >= $window_start AS in_window
        FROM staging.barriers
        WHERE noted_on <= $as_of AND note IS NOT NULL AND trim(note) <> ''
        """,
        {"as_of": as_of, "window_start": win.start},
    )
    text = fit_text_topics(con, n_topics=settings.theme_text_topics, seed=settings.seed)
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
        "seconds": round(time.monotonic() - t0, 2),
        "text_seconds": round(t_text, 2),
    }


def _split_coded_key(key: str) -> tuple[str, str | None]:
    """(barrier_code, domain) of a coded theme key (codes may contain '_' but never '-')."""
    _, barrier_code, domain = key.split("-", 2)
    if coded_theme_id(barrier_code, None) == key:
        return barrier_code, None
    return barrier_code, domain


# --------------------------------------------------------------------------------------------
# Dagster asset and checks


# --------------------------------------------------------------------------------------------
# Functions for the dashboard and the command line


THEME_COLUMNS = [
    "theme_id",
    "kind",
    "label",
    "barrier_code",
    "domain",
    "terms",
    "cases",
    "providers",
    "regions",
    "region_codes",
    "first_seen",
    "last_seen",
    "trend",
    "cases_prev",
    "cases_recent",
    "cases_recent_projected",
    "exemplary_cases",
    "status",
    "owner",
    "active",
    "first_as_of",
    "last_active_as_of",
    "window_start",
    "window_end",
    "recent_start",
    "min_cases",
    "min_providers",
]


def list_themes(workspace: str | Path | Workspace, include_inactive: bool = False) -> pd.DataFrame:
    """The themes of the latest run with the register's current status and owner.

    Figures come from ``mart.themes`` (published copy, else the warehouse); status, owner and
    the active flag from the register, so an edit shows at once without a re-run. Sorted:
    active first, then coded before text, most cases first. Extra German display columns:
    ``kind_label``, ``status_label``, ``trend_label`` (e.g. "steigend (8 → 12)", with the
    projection when the last quarter is partial: "steigend (37 → 32, hochgerechnet 54)").
    """
    ws = _workspace(workspace)
    with _mart_reader(ws) as con:
        if con is not None and _has_table(con, "mart", "themes"):
            mart = con.execute("SELECT * FROM mart.themes").df()
        else:
            mart = pd.DataFrame(columns=THEME_COLUMNS)
    if ws.register_db_path.exists():
        with open_register(ws) as rcon:
            registered = reg.themes_frame(rcon)
    else:
        registered = pd.DataFrame(columns=list(REGISTER_COLUMNS))
    live = registered[
        [
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
        ]
    ]
    df = mart.merge(live, on="theme_id", how="outer", suffixes=("_mart", ""), indicator=True)
    in_register = df["_merge"] != "left_only"
    for col in live.columns.drop("theme_id"):
        if f"{col}_mart" in df:
            # the register decides; the mart's copy only where the register has no entry
            df[col] = df[col].where(in_register, df[f"{col}_mart"])
            df = df.drop(columns=f"{col}_mart")
    df = df.drop(columns="_merge")
    df["active"] = df["active"].astype("boolean").fillna(False).astype(bool)
    df["status"] = df["status"].fillna("neu")
    for col in ("cases", "providers", "regions", "cases_prev", "cases_recent"):
        df[col] = pd.to_numeric(df[col]).fillna(0).astype(int)
    df["trend"] = df["trend"].fillna("gleichbleibend")
    df["kind_label"] = df["kind"].map(KIND_LABELS).fillna(df["kind"])
    df["status_label"] = df["status"].map(STATUS_LABELS).fillna(df["status"])
    df["trend_label"] = [
        trend_label(t, p, r, x)
        for t, p, r, x in zip(
            df["trend"],
            df["cases_prev"],
            df["cases_recent"],
            df.get("cases_recent_projected", pd.Series([None] * len(df), index=df.index)),
            strict=True,
        )
    ]
    if not include_inactive:
        df = df[df["active"]]
    df = df.sort_values(
        ["active", "kind", "cases", "theme_id"], ascending=[False, True, False, True]
    ).reset_index(drop=True)
    ordered = [c for c in THEME_COLUMNS if c in df.columns]
    return df[ordered + [c for c in df.columns if c not in ordered]]


def trend_label(trend: str, prev: int, recent: int, projected: float | None = None) -> str:
    """German trend text: the word, the cases of both halves and, when the second half is
    shorter (partial last quarter), its projection onto the first half's length."""
    text = f"{trend} ({prev} → {recent}"
    if projected is not None and not pd.isna(projected) and round(projected) != recent:
        text += f", hochgerechnet {round(projected)}"
    return text + ")"


def set_theme_status(
    workspace: str | Path | Workspace,
    theme_id: str,
    status: str,
    owner: str | None = None,
    note: str | None = None,
    decided_on: date | None = None,
    user: str | None = None,
) -> dict:
    """Set status (and owner body) of a registered theme and append the dated decision.

    ``owner=None`` keeps the current owner, ``owner=""`` clears it. Raises ``UnknownTheme``
    (German message) for an unknown id and ``ValueError`` for an unknown status. Returns the
    change: theme_id, old_status, new_status, old_owner, new_owner, note, decided_on, user.
    """
    with open_register(workspace) as rcon:
        return reg.set_status(
            rcon, theme_id, status, owner=owner, note=note, decided_on=decided_on, user=user
        )


def theme_history(workspace: str | Path | Workspace, theme_id: str) -> pd.DataFrame:
    """All register entries of a theme, oldest first: seq, entry_kind ('beschluss' or
    'system'), decided_on, recorded_at, user_name, old_status, new_status, old_owner,
    new_owner, note. Raises ``UnknownTheme``."""
    with open_register(workspace) as rcon:
        return reg.history(rcon, theme_id)


def theme_observations(workspace: str | Path | Workspace, theme_id: str) -> pd.DataFrame:
    """The theme's figures per run (as_of, run_at, active, cases, providers, regions)."""
    with open_register(workspace) as rcon:
        return reg.observations(rcon, theme_id)


def theme_cases(
    source: str | Path | Workspace | duckdb.DuckDBPyConnection,
    theme_id: str,
    provider_id: str | None = None,
) -> pd.DataFrame:
    """All window cases of a theme (keys, region, dates, typicality score, exemplary rank),
    most typical first; ``provider_id`` restricts to one provider (the provider role)."""
    with _mart_reader(source) as con:
        if con is None or not _has_table(con, "mart", "theme_cases"):
            return pd.DataFrame()
        return con.execute(
            """SELECT * FROM mart.theme_cases
               WHERE theme_id = $theme_id AND ($provider_id IS NULL OR provider_id = $provider_id)
               ORDER BY exemplary_rank NULLS LAST, score DESC NULLS LAST, last_noted DESC,
                        provider_id, case_id""",
            {"theme_id": theme_id, "provider_id": provider_id},
        ).df()


def exemplary_cases(
    source: str | Path | Workspace | duckdb.DuckDBPyConnection,
    theme_id: str,
    provider_id: str | None = None,
    n: int | None = None,
) -> pd.DataFrame:
    """The theme's exemplary cases for case reconstruction, with their ``mart.cases`` rows.

    Columns: theme_id, exemplary_rank (1 = most typical), typicality (score), provider_id,
    case_id, then every other ``mart.cases`` column. Without ``provider_id`` these are the
    network-wide exemplary cases (round-robin across providers); with it, that provider's
    most typical cases of the theme. ``n`` defaults to ``theme_exemplary_cases``.
    """
    with _mart_reader(source) as con:
        if con is None or not _has_table(con, "mart", "theme_cases"):
            return pd.DataFrame()
        if n is None:
            n = int(
                con.execute(
                    "SELECT coalesce(max(len(exemplary_cases)), 0) FROM mart.themes"
                ).fetchone()[0]
                or 0
            )
            n = max(n, 1)
        ranked = """
            SELECT theme_id, provider_id, case_id, score,
                   CASE WHEN $provider_id IS NULL THEN exemplary_rank
                        ELSE row_number() OVER (ORDER BY score DESC NULLS LAST,
                                                last_noted DESC, case_id) END AS rank_
            FROM mart.theme_cases
            WHERE theme_id = $theme_id
              AND ($provider_id IS NULL OR provider_id = $provider_id)
        """
        has_cases = _has_table(con, "mart", "cases")
        cases_cols = ", c.* EXCLUDE (provider_id, case_id)" if has_cases else ""
        join = (
            "LEFT JOIN mart.cases c ON c.provider_id = e.provider_id AND c.case_id = e.case_id"
            if has_cases
            else ""
        )
        return con.execute(
            f"""SELECT e.theme_id, e.rank_::INTEGER AS exemplary_rank, e.score AS typicality,
                       e.provider_id, e.case_id{cases_cols}
                FROM ({ranked}) e {join}
                WHERE e.rank_ IS NOT NULL AND e.rank_ <= $n
                ORDER BY e.rank_""",
            {"theme_id": theme_id, "provider_id": provider_id, "n": n},
        ).df()


# --------------------------------------------------------------------------------------------
# Command line: lagebild themes list|set


def _fmt_table(headers: list[str], rows: list[list[str]], widths: dict[int, int]) -> str:
    cut = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cell = "" if cell is None else str(cell)
            w = widths.get(i)
            if w and len(cell) > w:
                cell = cell[: w - 1] + "…"
            cells.append(cell)
        cut.append(cells)
    sizes = [max([len(h)] + [len(r[i]) for r in cut]) for i, h in enumerate(headers)]
    numeric = {i for i, h in enumerate(headers) if h in ("Fälle", "Träger", "Regionen")}

    def line(cells):
        return "  ".join(
            c.rjust(sizes[i]) if i in numeric else c.ljust(sizes[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [line(headers), "  ".join("-" * s for s in sizes)]
    out += [line(r) for r in cut]
    return "\n".join(out)


def format_theme_list(df: pd.DataFrame, show_inactive_marker: bool = True) -> str:
    headers = [
        "ID",
        "Art",
        "Bezeichnung",
        "Fälle",
        "Träger",
        "Regionen",
        "Trend",
        "Status",
        "Gremium",
    ]
    rows = []
    for r in df.itertuples(index=False):
        status = r.status_label
        if show_inactive_marker and not r.active:
            status = f"{status} (inaktiv)"
        rows.append(
            [
                r.theme_id,
                r.kind_label,
                r.label,
                r.cases,
                r.providers,
                r.regions,
                r.trend_label,
                status,
                r.owner if isinstance(r.owner, str) else "–",
            ]
        )
    return _fmt_table(headers, rows, widths={2: 48})  # ids never cut: they are typed in


def _date_de(value) -> str:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return "–"
    return pd.Timestamp(value).strftime("%d.%m.%Y")


def cli_themes(args) -> int:
    from kernel.errors import UserError

    ws = _workspace(args.workspace)
    if not ws.root.exists():
        raise UserError(f"Den Arbeitsbereich {ws.root} gibt es nicht.")
    try:
        if args.themes_command == "list":
            return _cli_list(ws, include_inactive=bool(getattr(args, "all", False)))
        if args.themes_command == "set":
            return _cli_set(ws, args)
    except UnknownTheme as exc:
        raise UserError(str(exc)) from exc
    except WorkspaceBusy as exc:
        raise UserError(str(exc)) from exc
    raise UserError(f"Unbekannte Aktion '{args.themes_command}'.")


def _cli_list(ws: Workspace, include_inactive: bool) -> int:
    df_all = list_themes(ws, include_inactive=True)
    if df_all.empty:
        print(
            "Noch keine generativen Themen. Bitte zuerst `lagebild run` (oder `lagebild demo`)"
            " für diesen Arbeitsbereich ausführen."
        )
        return 0
    settings = load_settings(ws.root)
    df = df_all if include_inactive else df_all[df_all["active"]]
    first = df_all.dropna(subset=["window_start"]).head(1)
    if not first.empty:
        f = first.iloc[0]
        print(
            f"Generative Themen – Datenstand {_date_de(f['window_end'])}, Zeitfenster"
            f" {_date_de(f['window_start'])} bis {_date_de(f['window_end'])}"
            f" (mind. {int(f['min_cases'])} Fälle aus mind. {int(f['min_providers'])} Trägern;"
            " Trend: letzte zwei Quartale gegen die zwei davor)"
        )
    else:
        print(
            f"Generative Themen (mind. {settings.theme_min_cases} Fälle aus mind."
            f" {settings.theme_min_providers} Trägern)"
        )
    print()
    if df.empty:
        print("Keine aktiven Themen.")
    else:
        print(format_theme_list(df))
    inactive = int((~df_all["active"]).sum())
    print()
    summary = f"{int(df_all['active'].sum())} aktive Themen"
    if inactive and not include_inactive:
        summary += f"; {inactive} inaktive im Themenspeicher (anzeigen mit --all)"
    elif inactive:
        summary += f"; {inactive} inaktive (unter den Schwellen, bleiben im Themenspeicher)"
    print(summary + ".")
    return 0


def _cli_set(ws: Workspace, args) -> int:
    from kernel.errors import UserError

    if not ws.register_db_path.exists():
        raise UserError(
            "Es gibt noch keinen Themenspeicher in diesem Arbeitsbereich. Bitte zuerst"
            " `lagebild run` ausführen."
        )
    try:
        user = getpass.getuser()
    except Exception:  # no login name (some containers): record none
        user = None
    change = set_theme_status(
        ws, args.theme_id, args.status, owner=args.owner, note=args.note, user=user
    )
    parts = []
    if change["old_status"] != change["new_status"]:
        parts.append(
            f"Status {STATUS_LABELS[change['old_status']]} → {STATUS_LABELS[change['new_status']]}"
        )
    else:
        parts.append(f"Status bleibt {STATUS_LABELS[change['new_status']]}")
    if change["old_owner"] != change["new_owner"]:
        parts.append(f"Gremium {change['old_owner'] or '–'} → {change['new_owner'] or '–'}")
    elif change["new_owner"]:
        parts.append(f"Gremium bleibt {change['new_owner']}")
    if change["note"]:
        parts.append("Beschlussnotiz gespeichert")
    print(f"{change['theme_id']}: " + "; ".join(parts) + f" (am {_date_de(change['decided_on'])}).")
    return 0
