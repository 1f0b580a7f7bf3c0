"""A tiny SQL model runner: `transforms/intermediate/*.sql`, `transforms/marts/*.sql` and the
quarter marts that transforms/gaps.py defines with its roll-ups.

Each file is one model: a single SELECT (a lowercase CTE chain import → logic → final) that
the runner materialises as `intermediate.<file stem>` or `mart.<file stem>`. A first-line
comment `-- materialized: view` makes it a view (cheap filters and joins); everything else is
a table. Dependencies are read from the SQL itself (`intermediate.x`, `mart.y`), so the files
run in dependency order without a hand-kept list.

The run parameters (data cut-off `as_of` and the configured day limits) are written to the
one-row table `intermediate.params` before the models run; models read them from there, so a
model can also be run by hand in the DuckDB shell after `build_params`.

The whole build is one transaction: a failing model leaves the previous marts untouched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from data_contracts.schema import AUDIT_DDL
from kernel.settings import Settings
from kernel.warehouse import current_as_of
from transforms import gaps, scorecard

TRANSFORMS_DIR = Path(__file__).resolve().parent
# folder -> DuckDB schema
LAYERS = {"intermediate": "intermediate", "marts": "mart"}
PARAMS_TABLE = "intermediate.params"  # written by build_params, read by the models

_REF = re.compile(r"\b(staging|intermediate|mart)\.([a-z_][a-z0-9_]*)\b")
_MATERIALIZED = re.compile(r"^\s*--\s*materialized:\s*(table|view)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Model:
    schema: str
    name: str
    path: Path
    sql: str
    materialized: str  # "table" or "view"
    deps: tuple[str, ...]  # other models, as "schema.name"
    sources: tuple[str, ...]  # staging tables read, as "staging.name"

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def description(self) -> str:
        """The leading comment block of the file (what the model is)."""
        lines = []
        for line in self.sql.splitlines():
            stripped = line.strip()
            if not stripped.startswith("--"):
                break
            text = stripped[2:].strip()
            if not text.startswith("materialized:"):
                lines.append(text)
        return " ".join(lines).strip()


@dataclass(frozen=True)
class ModelRun:
    key: str
    materialized: str
    rows: int | None
    seconds: float


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _model(schema: str, name: str, path: Path, sql: str) -> Model:
    match = _MATERIALIZED.search(sql)
    refs = {f"{s}.{n}" for s, n in _REF.findall(_strip_comments(sql))}
    key = f"{schema}.{name}"
    return Model(
        schema=schema,
        name=name,
        path=path,
        sql=sql,
        materialized=match.group(1) if match else "table",
        deps=tuple(
            sorted(r for r in refs if not r.startswith("staging.") and r not in (key, PARAMS_TABLE))
        ),
        sources=tuple(sorted(r for r in refs if r.startswith("staging."))),
    )


def load_models(root: Path = TRANSFORMS_DIR) -> list[Model]:
    """All models under `root`, in dependency order (dependencies first): the SQL files, and
    the quarter marts of the roll-up modules (one definition each, see transforms/gaps.py)."""
    found: dict[str, Model] = {}
    for folder, schema in LAYERS.items():
        for path in sorted((root / folder).glob("*.sql")):
            found[f"{schema}.{path.stem}"] = _model(
                schema, path.stem, path, path.read_text(encoding="utf-8")
            )
    if root == TRANSFORMS_DIR:
        for module in (gaps, scorecard):
            for mart in module.MARTS:
                schema = getattr(mart, "schema", "mart")
                sql = f"-- {mart.description}\n{mart.sql}"
                found[f"{schema}.{mart.name}"] = _model(
                    schema, mart.name, Path(module.__file__), sql
                )
    for model in found.values():
        unknown = [d for d in model.deps if d not in found]
        if unknown:
            raise ValueError(f"{model.path.name}: unknown model(s) {', '.join(unknown)}")
    return _toposort(found)


def _toposort(models: dict[str, Model]) -> list[Model]:
    ordered: list[Model] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(key: str, chain: tuple[str, ...]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise ValueError("cycle between models: " + " -> ".join((*chain, key)))
        state[key] = 1
        for dep in models[key].deps:
            visit(dep, (*chain, key))
        state[key] = 2
        ordered.append(models[key])

    for key in sorted(models):
        visit(key, ())
    return ordered


def upstream_sources(model: Model, models: Iterable[Model]) -> set[str]:
    """Staging tables a model reads, directly or through the models it depends on."""
    by_key = {m.key: m for m in models}
    seen: set[str] = set()
    sources: set[str] = set()
    stack = [model.key]
    while stack:
        key = stack.pop()
        if key in seen or key not in by_key:
            continue
        seen.add(key)
        sources.update(by_key[key].sources)
        stack.extend(by_key[key].deps)
    return sources


def build_params(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    """Write the run parameters every model reads (`intermediate.params`, one row)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
    con.execute(
        """
        CREATE OR REPLACE TABLE intermediate.params AS
        SELECT
          ?::DATE AS as_of,
          ?::INTEGER AS transfer_max_days,
          ?::INTEGER AS review_due_days,
          ?::INTEGER AS close_due_days,
          ?::INTEGER AS followup_conversation_days
        """,
        [
            as_of,
            settings.transfer_max_days,
            settings.review_due_days,
            settings.close_due_days,
            settings.followup_conversation_days,
        ],
    )


def _drop_other_kind(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """A model that changed from table to view (or back) replaces the old object."""
    other = "TABLE" if model.materialized == "view" else "VIEW"
    catalog = "duckdb_tables()" if other == "TABLE" else "duckdb_views()"
    exists = con.execute(
        f"SELECT count(*) FROM {catalog} WHERE schema_name = ? AND {other.lower()}_name = ?"
        " AND database_name = current_database()",
        [model.schema, model.name],
    ).fetchall()[0][0]
    if exists:
        con.execute(f"DROP {other} {model.key} CASCADE")


def _resolve_as_of(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None) -> date:
    if as_of is not None:
        return as_of
    if settings.as_of is not None:
        return settings.as_of
    return current_as_of(con)


def build_marts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date | None = None,
    *,
    models: list[Model] | None = None,
) -> list[ModelRun]:
    """Build every intermediate and mart model on `con`, in one transaction.

    `as_of` defaults to `settings.as_of`, then to the run's resolved cut-off in
    `meta.data_basis`. Returns one `ModelRun` per model (rows for tables, timing for all).
    """
    as_of = _resolve_as_of(con, settings, as_of)
    models = load_models() if models is None else models
    runs: list[ModelRun] = []
    con.execute("BEGIN TRANSACTION")
    try:
        for schema in LAYERS.values():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        build_params(con, settings, as_of)
        con.execute(AUDIT_DDL)  # the scorecard reads audit.* (empty when nothing was delivered)
        for model in models:
            started = time.perf_counter()
            body = model.sql.strip().rstrip(";")
            _drop_other_kind(con, model)
            if model.materialized == "view":
                con.execute(f"CREATE OR REPLACE VIEW {model.key} AS\n{body}")
                rows = None
            else:
                con.execute(f"CREATE OR REPLACE TABLE {model.key} AS\n{body}")
                rows = con.execute(f"SELECT count(*) FROM {model.key}").fetchall()[0][0]
            runs.append(
                ModelRun(model.key, model.materialized, rows, time.perf_counter() - started)
            )
        if any(m.key == "mart.scorecard" for m in models):
            scorecard.record_history(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return runs
