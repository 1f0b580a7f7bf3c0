"""The theme register (Themenspeicher): tables and operations on an open connection.

The register lives in its own DuckDB file (``WORKSPACE/themenspeicher.duckdb``), never in the
warehouse, so that it survives every re-run, re-delivery and warehouse rebuild. Opening it
(locking, short connections) is the caller's business: see ``transforms.themes.store``.

Nothing is ever deleted. A theme that falls below the thresholds stays with ``active = false``;
every status or owner change is appended to ``decisions`` (who, when, old -> new, note), and
the pipeline adds ``system`` entries when a theme is first recognised, falls below the
thresholds or rises above them again. ``observations`` keeps the figures of each run.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

SCHEMA_VERSION = "1"

STATUSES = ("neu", "priorisiert", "themenspeicher", "projektgruppe", "lenkungsgruppe", "erledigt")
STATUS_LABELS = {
    "neu": "neu",
    "priorisiert": "priorisiert",
    "themenspeicher": "im Themenspeicher",
    "projektgruppe": "an Projektgruppe übergeben",
    "lenkungsgruppe": "in der Lenkungsgruppe",
    "erledigt": "erledigt",
}
SYSTEM_USER = "lagebild"

REGISTER_DDL = """
CREATE TABLE IF NOT EXISTS register_meta (key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS themes (
  theme_id VARCHAR NOT NULL,      -- unique; never reused, never deleted
  kind VARCHAR NOT NULL,          -- 'code' or 'text'
  barrier_code VARCHAR,           -- coded themes
  domain VARCHAR,                 -- coded themes
  label VARCHAR NOT NULL,         -- German label of the latest run
  terms VARCHAR[],                -- text themes: top terms (lower case) of the latest match
  term_keys VARCHAR[],            -- text themes: folded keys the next run is matched against
  first_terms VARCHAR[],          -- text themes: terms when first recognised
  status VARCHAR NOT NULL,        -- neu, priorisiert, themenspeicher, projektgruppe, ...
  owner VARCHAR,                  -- owner body (Gremium), e.g. 'AG Gesundheit'
  active BOOLEAN NOT NULL,        -- above the thresholds in the latest run
  first_as_of DATE,               -- Datenstand of the run that first recognised it
  last_active_as_of DATE,         -- Datenstand of the latest run in which it was active
  last_run_as_of DATE,            -- Datenstand of the latest run
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
  theme_id VARCHAR NOT NULL,
  seq INTEGER NOT NULL,           -- 1, 2, ... per theme
  entry_kind VARCHAR NOT NULL,    -- 'beschluss' (coordinating office) or 'system' (pipeline)
  decided_on DATE NOT NULL,
  recorded_at TIMESTAMP NOT NULL,
  user_name VARCHAR,
  old_status VARCHAR,
  new_status VARCHAR,
  old_owner VARCHAR,
  new_owner VARCHAR,
  note VARCHAR
);
CREATE TABLE IF NOT EXISTS observations (
  theme_id VARCHAR NOT NULL,
  as_of DATE NOT NULL,            -- one row per theme and Datenstand (a re-run replaces it)
  run_at TIMESTAMP NOT NULL,
  active BOOLEAN NOT NULL,
  cases INTEGER,
  providers INTEGER,
  regions INTEGER
);
"""


class UnknownTheme(KeyError):
    """No theme with this id in the register."""

    def __init__(self, theme_id: str):
        super().__init__(theme_id)
        self.theme_id = theme_id

    def __str__(self) -> str:
        return (
            f"Unbekanntes Thema '{self.theme_id}'. Die Themen-IDs zeigt"
            " `lagebild themes list --all`."
        )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(REGISTER_DDL)
    if not con.execute("SELECT 1 FROM register_meta WHERE key = 'schema_version'").fetchone():
        con.execute("INSERT INTO register_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def themes_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT * FROM themes ORDER BY theme_id").df()


def _system_note(con, theme_id: str, status: str, run_at, note: str) -> None:
    """A dated entry by the pipeline itself (status unchanged), e.g. a theme fell below the
    thresholds; the coordinating office sees it in the theme's history."""
    _append_decision(
        con,
        theme_id,
        entry_kind="system",
        decided_on=run_at.date(),
        recorded_at=run_at,
        user=SYSTEM_USER,
        old_status=status,
        new_status=status,
        note=note,
    )


def _append_decision(
    con: duckdb.DuckDBPyConnection,
    theme_id: str,
    *,
    entry_kind: str,
    decided_on: date,
    recorded_at: datetime,
    user: str | None,
    old_status: str | None,
    new_status: str | None,
    old_owner: str | None = None,
    new_owner: str | None = None,
    note: str | None = None,
) -> None:
    seq = con.execute(
        "SELECT coalesce(max(seq), 0) + 1 FROM decisions WHERE theme_id = ?", [theme_id]
    ).fetchone()[0]
    con.execute(
        "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            theme_id,
            seq,
            entry_kind,
            decided_on,
            recorded_at,
            user,
            old_status,
            new_status,
            old_owner,
            new_owner,
            note,
        ],
    )


def _list(value) -> list[str] | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return [str(v) for v in value]


def sync_run(
    con: duckdb.DuckDBPyConnection,
    themes: pd.DataFrame,
    *,
    as_of: date,
    run_at: datetime,
) -> pd.DataFrame:
    """Record one run's themes and return the register afterwards.

    ``themes``: one row per theme of this run that is either active or already registered;
    columns theme_id, kind, barrier_code, domain, label, terms, term_keys, active, cases,
    providers, regions. New active themes are added with status ``neu``; registered themes
    missing from ``themes`` become inactive. Nothing is deleted.
    """
    ensure_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        existing = {r[0]: r for r in con.execute("SELECT theme_id, active FROM themes").fetchall()}
        seen = set()
        for row in themes.itertuples(index=False):
            tid = row.theme_id
            seen.add(tid)
            active = bool(row.active)
            terms, keys = _list(row.terms), _list(row.term_keys)
            if tid not in existing:
                if not active:
                    continue  # below the thresholds and never registered: not a theme
                con.execute(
                    """INSERT INTO themes VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'neu', NULL, TRUE,
                                                  ?, ?, ?, ?, ?)""",
                    [
                        tid,
                        row.kind,
                        row.barrier_code,
                        row.domain,
                        row.label,
                        terms,
                        keys,
                        terms,
                        as_of,
                        as_of,
                        as_of,
                        run_at,
                        run_at,
                    ],
                )
                _append_decision(
                    con,
                    tid,
                    entry_kind="system",
                    decided_on=run_at.date(),
                    recorded_at=run_at,
                    user=SYSTEM_USER,
                    old_status=None,
                    new_status="neu",
                    note=f"Neu erkannt (Datenstand {as_of:%d.%m.%Y}, {row.cases} Fälle,"
                    f" {row.providers} Träger).",
                )
                continue
            was_active = bool(existing[tid][1])
            con.execute(
                """UPDATE themes SET label = ?, terms = coalesce(?, terms),
                       term_keys = coalesce(?, term_keys), active = ?,
                       last_active_as_of = CASE WHEN ? THEN ? ELSE last_active_as_of END,
                       last_run_as_of = ?, updated_at = ?
                   WHERE theme_id = ?""",
                [row.label, terms, keys, active, active, as_of, as_of, run_at, tid],
            )
            if was_active != active:
                status = con.execute(
                    "SELECT status FROM themes WHERE theme_id = ?", [tid]
                ).fetchone()[0]
                note = (
                    f"Wieder über den Schwellen (Datenstand {as_of:%d.%m.%Y},"
                    f" {row.cases} Fälle, {row.providers} Träger)."
                    if active
                    else f"Unter die Schwellen gefallen (Datenstand {as_of:%d.%m.%Y},"
                    f" {row.cases or 0} Fälle, {row.providers or 0} Träger); bleibt im Register."
                )
                _system_note(con, tid, status, run_at, note)
        for tid, (_, was_active) in existing.items():
            if tid in seen:
                continue
            con.execute(
                "UPDATE themes SET active = FALSE, last_run_as_of = ?, updated_at = ?"
                " WHERE theme_id = ?",
                [as_of, run_at, tid],
            )
            if was_active:
                status = con.execute(
                    "SELECT status FROM themes WHERE theme_id = ?", [tid]
                ).fetchone()[0]
                _system_note(
                    con,
                    tid,
                    status,
                    run_at,
                    f"In diesem Lauf nicht mehr gefunden (Datenstand {as_of:%d.%m.%Y});"
                    " bleibt im Register.",
                )
        # Figures of this run per registered theme (a re-run with the same as_of replaces them).
        con.execute("DELETE FROM observations WHERE as_of = ?", [as_of])
        figures = themes[["theme_id", "active", "cases", "providers", "regions"]].copy()
        con.register("run_figures", figures)
        con.execute(
            """INSERT INTO observations
               SELECT t.theme_id, ?, ?, t.active, f.cases::INTEGER, f.providers::INTEGER,
                      f.regions::INTEGER
               FROM themes t LEFT JOIN run_figures f USING (theme_id)""",
            [as_of, run_at],
        )
        con.unregister("run_figures")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return themes_frame(con)


def set_status(
    con: duckdb.DuckDBPyConnection,
    theme_id: str,
    status: str,
    *,
    owner: str | None = None,
    note: str | None = None,
    decided_on: date | None = None,
    user: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Set a theme's status (and owner body), append the decision; returns what changed."""
    if status not in STATUSES:
        raise ValueError(f"Unbekannter Status '{status}'. Erlaubt: {', '.join(STATUSES)}.")
    ensure_schema(con)
    row = con.execute("SELECT status, owner FROM themes WHERE theme_id = ?", [theme_id]).fetchone()
    if row is None:
        raise UnknownTheme(theme_id)
    old_status, old_owner = row
    now = now or datetime.now().replace(microsecond=0)
    decided_on = decided_on or now.date()
    new_owner = old_owner if owner is None else (owner.strip() or None)
    note = note.strip() if note and note.strip() else None
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "UPDATE themes SET status = ?, owner = ?, updated_at = ? WHERE theme_id = ?",
            [status, new_owner, now, theme_id],
        )
        _append_decision(
            con,
            theme_id,
            entry_kind="beschluss",
            decided_on=decided_on,
            recorded_at=now,
            user=user,
            old_status=old_status,
            new_status=status,
            old_owner=old_owner,
            new_owner=new_owner,
            note=note,
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {
        "theme_id": theme_id,
        "old_status": old_status,
        "new_status": status,
        "old_owner": old_owner,
        "new_owner": new_owner,
        "note": note,
        "decided_on": decided_on,
        "user": user,
    }


def history(con: duckdb.DuckDBPyConnection, theme_id: str) -> pd.DataFrame:
    ensure_schema(con)
    if con.execute("SELECT 1 FROM themes WHERE theme_id = ?", [theme_id]).fetchone() is None:
        raise UnknownTheme(theme_id)
    return con.execute(
        """SELECT theme_id, seq, entry_kind, decided_on, recorded_at, user_name, old_status,
                  new_status, old_owner, new_owner, note
           FROM decisions WHERE theme_id = ? ORDER BY seq""",
        [theme_id],
    ).df()


def observations(con: duckdb.DuckDBPyConnection, theme_id: str) -> pd.DataFrame:
    ensure_schema(con)
    return con.execute(
        "SELECT * FROM observations WHERE theme_id = ? ORDER BY as_of", [theme_id]
    ).df()
