"""Reading themes: the figures of the latest run (``mart.themes``, ``mart.theme_cases``) with
the register's live status, and a theme's cases for case reconstruction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from kernel.warehouse import reader
from kernel.workspace import Workspace
from transforms.themes import register as reg
from transforms.themes.build import REGISTER_COLUMNS
from transforms.themes.store import open_register, workspace_of

KIND_LABELS = {"code": "kodiert", "text": "Text"}


@contextlib.contextmanager
def _mart_reader(source) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The marts to read: a given connection, else the published copy, else the warehouse."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    ws = workspace_of(source)
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


def _file_state(path: Path) -> tuple:
    """What changes with every write to a DuckDB file: inode, mtime and size of it and its WAL."""
    state = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
            state.append((st.st_ino, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            state.append(None)
    return tuple(state)


_REGISTER_READS: dict[Path, tuple[tuple, pd.DataFrame]] = {}


def _registered(ws: Workspace) -> pd.DataFrame:
    """The register's themes, read again only when its file changed since the last read in
    this process: opening the register costs ~35 ms of every themes query (the dashboard's
    overview reads it twice), and it changes only when someone edits a theme."""
    path = ws.register_db_path
    hit = _REGISTER_READS.get(path)
    if hit is not None and hit[0] == _file_state(path):
        return hit[1].copy()
    with open_register(ws) as rcon:
        frame = reg.themes_frame(rcon)
        state = _file_state(path)  # under the lock: the state this frame was read at
    _REGISTER_READS[path] = (state, frame)
    return frame.copy()


def list_themes(
    workspace: str | Path | Workspace,
    include_inactive: bool = False,
    marts: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """The themes of the latest run with the register's current status and owner.

    Figures come from ``mart.themes`` (on `marts`, a connection the caller holds, else the
    published copy, else the warehouse); status, owner and the active flag from the register,
    so an edit shows at once without a re-run. Sorted: active first, then coded before text,
    most cases first. Extra German display columns:
    ``kind_label``, ``status_label``, ``trend_label`` (e.g. "steigend (8 → 12)", with the
    projection when the last quarter is partial: "steigend (37 → 32, hochgerechnet 54)").
    """
    ws = workspace_of(workspace)
    with _mart_reader(ws if marts is None else marts) as con:
        if con is not None and _has_table(con, "mart", "themes"):
            mart = con.execute("SELECT * FROM mart.themes").df()
        else:
            mart = pd.DataFrame(columns=THEME_COLUMNS)
    if ws.register_db_path.exists():
        registered = _registered(ws)
    else:
        registered = pd.DataFrame(columns=list(REGISTER_COLUMNS))
    live = registered[list(REGISTER_COLUMNS)]
    # pandas costs per call, not per row, on these few dozen rows: one merge without its
    # indicator and one drop (1,000,000 cases: 28 -> 19 ms, in the overview's slowest query)
    df = mart.merge(live, on="theme_id", how="outer", suffixes=("_mart", ""))
    in_register = df["theme_id"].isin(live["theme_id"])
    both = [c for c in live.columns.drop("theme_id") if f"{c}_mart" in df]
    for col in both:
        # the register decides; the mart's copy only where the register has no entry
        df[col] = df[col].where(in_register, df[f"{col}_mart"])
    df = df.drop(columns=[f"{c}_mart" for c in both])
    df["active"] = df["active"].astype("boolean").fillna(False).astype(bool)
    df["status"] = df["status"].fillna("neu")
    for col in ("cases", "providers", "regions", "cases_prev", "cases_recent"):
        df[col] = pd.to_numeric(df[col]).fillna(0).astype(int)
    df["trend"] = df["trend"].fillna("gleichbleibend")
    df["kind_label"] = df["kind"].map(KIND_LABELS).fillna(df["kind"])
    df["status_label"] = df["status"].map(reg.STATUS_LABELS).fillna(df["status"])
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
