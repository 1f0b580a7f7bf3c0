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

A comment line `-- partitioned: provider_id` declares that a model's rows of one provider come
from that provider's rows alone (its sources are staging tables and other partitioned models,
joined on provider_id). When one provider re-delivers, such models are rebuilt for the
providers whose staging rows changed only (`changed_providers`); every other model is rebuilt
whole, as before. The state this needs (a fingerprint of each provider's staging rows and of
the build's parameters and SQL) is kept in `intermediate`, which is never published.

`-- partitioned: shared` marks a small model with the same rows for every provider (the
calendar of quarters): it is built whole, and partitioned models may read it. When its rows
are not those of the last build (a re-delivery moved the first quarter with data), the
partitioned models that read it, directly or through others, are built whole (`SHARED_STATE`).

Row order: a mart's rows are in no particular order. The row-level marts (cases, goals,
referrals, re-entry) are not sorted when built: sorting every row and column was 1.1–1.4 s
of the 7.8 s the marts took at 1,000,000 cases, and no reader may rely on it anyway, since a
re-delivery's partial build appends the changed providers' rows at the end. Whoever shows or
compares rows sorts them. `mart.caseload_by_caseworker` stays sorted (marts/ says why).

`-- partitioned: person` marks a model with one row per closed case (`PERSON_ROWS`) whose
figures may rest on other providers' rows of the same person (re-entry: a later case of the
person anywhere). After a re-delivery it is rebuilt for the closed cases of the changed
providers and of every person with a case at one of them, before or after the re-delivery
(`_Delta.build_for_persons`), reading everything else whole. Its table is not among a build's
`rebuilt_tables`: other providers' rows change too, so the publication copies it whole.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from data_contracts.rules import lit
from data_contracts.schema import AUDIT_DDL
from kernel.fingerprint import ROW, ROWS_HASH, table_fingerprint
from kernel.settings import Settings
from kernel.warehouse import current_as_of, table_columns
from transforms import gaps, scorecard

TRANSFORMS_DIR = Path(__file__).resolve().parent
# folder -> DuckDB schema
LAYERS = {"intermediate": "intermediate", "marts": "mart"}
PARAMS_TABLE = "intermediate.params"  # written by build_params, read by the models

_REF = re.compile(r"\b(staging|intermediate|mart)\.([a-z_][a-z0-9_]*)\b")
_MATERIALIZED = re.compile(r"^\s*--\s*materialized:\s*(table|view)\s*$", re.MULTILINE)
_PARTITIONED = re.compile(r"^\s*--\s*partitioned:\s*(provider_id|shared|person)\s*$", re.MULTILINE)
# what a partitioned build remembers between runs (schema intermediate: never published)
BUILD_STATE = "intermediate.mart_build_state"
INPUT_STATE = "intermediate.mart_inputs"
SHARED_STATE = "intermediate.mart_shared"  # rows and fingerprint of each shared model
# a `partitioned: person` model is built for the rows of this view (provider_id, case_id,
# person_key); the persons of a provider's cases are those of PERSON_CASES
PERSON_ROWS = "intermediate.closed_cases"
PERSON_CASES = "intermediate.cases"
STATE_VERSION = "2"  # raise when the meaning of the state changes: the next build is whole
# rebuilding a few providers is cheaper than all of them only while they are few
MAX_CHANGED_SHARE = 0.5


@dataclass(frozen=True)
class Model:
    schema: str
    name: str
    path: Path
    sql: str
    materialized: str  # "table" or "view"
    deps: tuple[str, ...]  # other models, as "schema.name"
    sources: tuple[str, ...]  # staging tables read, as "staging.name"
    partitioned: bool = False  # rows of a provider come from that provider's rows alone
    shared: bool = False  # the same rows for every provider; partitioned models may read it
    by_person: bool = False  # rows of closed cases, resting on every case of the same person

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
            if not text.startswith(("materialized:", "partitioned:")):
                lines.append(text)
        return " ".join(lines).strip()


@dataclass(frozen=True)
class ModelRun:
    key: str
    materialized: str
    rows: int | None
    seconds: float
    providers: int | None = None  # rebuilt for this many changed providers; None: whole


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _model(schema: str, name: str, path: Path, sql: str) -> Model:
    match = _MATERIALIZED.search(sql)
    partition = _PARTITIONED.search(sql)
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
        partitioned=bool(partition) and partition.group(1) == "provider_id",
        shared=bool(partition) and partition.group(1) == "shared",
        by_person=bool(partition) and partition.group(1) == "person",
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
        whole = [d for d in model.deps if not (found[d].partitioned or found[d].shared)]
        # every input fingerprinted per provider: a change the partial build does not see would
        # leave its rows as they were (for re-entry: a relapse-only re-delivery, attack review)
        if (model.partitioned or model.by_person) and whole:
            kind = "partitioned by person" if model.by_person else "partitioned"
            raise ValueError(
                f"{model.path.name}: {kind}, but reads the whole model(s) {', '.join(whole)}"
            )
        if model.by_person and PERSON_ROWS not in model.deps:
            raise ValueError(
                f"{model.path.name}: partitioned by person, but reads no {PERSON_ROWS}"
            )
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


def _drop_other_kind(con: duckdb.DuckDBPyConnection, model: Model, existing: set) -> None:
    """A model that changed from table to view (or back) replaces the old object."""
    other = "table" if model.materialized == "view" else "view"
    if (model.key, other) in existing:
        con.execute(f"DROP {other.upper()} {model.key} CASCADE")


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
    partial: bool = True,
    on_plan: Callable[[list[str] | None], None] | None = None,
) -> list[ModelRun]:
    """Build every intermediate and mart model on `con`, in one transaction.

    `as_of` defaults to `settings.as_of`, then to the run's resolved cut-off in
    `meta.data_basis`. Partitioned models are rebuilt for the changed providers only when
    `partial` and the last build had the same parameters and SQL (`changed_providers`).
    `on_plan(changed)` hears which before the models are built (None: all of them).
    Returns one `ModelRun` per model (rows for tables, timing for all).
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
        existing = _catalog(con)  # before the build: what the last one left
        key = _build_key(con, models)
        _fingerprint_inputs(con, models)
        changed = changed_providers(con, models, key, existing) if partial else None
        if on_plan is not None:
            on_plan(changed)
        delta = _Delta(con, models, changed) if changed is not None else None
        shared_before = _shared_prints(con, existing) if delta is not None else {}
        shared: dict[str, tuple] = {}  # each shared model's rows and fingerprint, as built now
        by_delta: list[Model] = []  # the partitioned models rebuilt for the changed providers
        stale: set[str] = set()  # shared models that changed, and partitioned models built whole
        for model in models:
            started = time.perf_counter()
            for_changed = (
                delta is not None
                and (model.partitioned or model.by_person)
                and not stale & set(model.deps)
            )
            if for_changed and model.by_person:
                rows = delta.build_for_persons(model)  # not in rebuilt_tables (module doc)
            elif for_changed:
                rows = delta.build(model)
                by_delta.append(model)
            else:
                rows = _build_whole(con, model, existing)
                if delta is not None and model.partitioned:
                    stale.add(model.key)  # its readers have no delta of it: whole as well
            if model.shared:
                shared[model.key] = table_fingerprint(con, model.key)
                if delta is not None and shared[model.key] != shared_before.get(model.key):
                    stale.add(model.key)  # its readers are built whole
            runs.append(
                ModelRun(
                    model.key,
                    model.materialized,
                    rows,
                    time.perf_counter() - started,
                    len(changed) if for_changed else None,
                )
            )
        if delta is not None:
            delta.drop()
        rebuilt = (
            None
            if delta is None
            else [m.key for m in by_delta if m.materialized == "table" and m.schema == "mart"]
        )
        _remember_inputs(con, key, changed if delta is not None else None, rebuilt, shared)
        if any(m.key == "mart.scorecard" for m in models):
            scorecard.record_history(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return runs


def _build_whole(con: duckdb.DuckDBPyConnection, model: Model, existing: set) -> int | None:
    body = model.sql.strip().rstrip(";")
    _drop_other_kind(con, model, existing)
    if model.materialized == "view":
        con.execute(f"CREATE OR REPLACE VIEW {model.key} AS\n{body}")
        return None
    # DuckDB answers CREATE TABLE AS with the rows it wrote: no count(*) afterwards
    return con.execute(f"CREATE OR REPLACE TABLE {model.key} AS\n{body}").fetchall()[0][0]


def _build_key(con: duckdb.DuckDBPyConnection, models: list[Model]) -> str:
    """What the marts' rows depend on besides staging's values: the parameters, every model's
    SQL, the staging tables' columns (a row's hash ignores column names and some types) and
    the DuckDB version (its hash function)."""
    digest = hashlib.sha256(f"{STATE_VERSION}\0{duckdb.__version__}".encode())
    digest.update(repr(con.execute(f"SELECT * FROM {PARAMS_TABLE}").fetchall()).encode())
    columns = con.execute(
        "SELECT schema_name || '.' || table_name, column_name, data_type FROM duckdb_columns()"
        " WHERE database_name = current_database() AND schema_name = 'staging'"
        " ORDER BY table_name, column_index"
    ).fetchall()
    digest.update(repr(columns).encode())
    for m in models:
        digest.update(f"{m.key}\0{m.materialized}\0{m.sql}\0".encode())
    return digest.hexdigest()


def _shared_prints(con: duckdb.DuckDBPyConnection, existing: set) -> dict[str, tuple[int, int]]:
    """The shared models' fingerprints of the last build (empty when none were kept)."""
    if (SHARED_STATE, "table") not in existing:
        return {}
    return {
        model: (int(rows), int(total))
        for model, rows, total in con.execute(
            f"SELECT model, row_count, fingerprint FROM {SHARED_STATE}"
        ).fetchall()
    }


def _partition_sources(models: list[Model]) -> list[str]:
    return sorted({s for m in models if m.partitioned for s in m.sources})


def _fingerprint_inputs(con: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    """Per staging table and provider: the rows and the sum of their hashes (every column,
    delivery_id included), so any added, removed or altered row of a provider shows. One
    pass over each table in DuckDB: at 1,000,000 cases 0.16 s alone, 0.57 s within a
    re-delivery's run (cold pages, other work beside it; docs/performance-notes.md)."""
    parts = [
        f"SELECT '{t}' AS table_name, provider_id, count(*) AS row_count,"
        f' {ROWS_HASH} AS fingerprint FROM {t} AS "{ROW}" GROUP BY provider_id'
        for t in _partition_sources(models)
    ] or ["SELECT ''::VARCHAR, ''::VARCHAR, 0::BIGINT, 0::HUGEINT WHERE false"]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE mart_inputs_now AS "
        + " UNION ALL ".join(f"({p})" for p in parts)
    )


def _catalog(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """The warehouse's tables and views as ("schema.name", "table" or "view"), asked once per
    build: one question of DuckDB's catalogue costs about a millisecond, and a build asked
    24 of them."""
    return set(
        con.execute(
            "SELECT schema_name || '.' || table_name, 'table' FROM duckdb_tables()"
            " WHERE database_name = current_database() AND NOT temporary UNION ALL"
            " SELECT schema_name || '.' || view_name, 'view' FROM duckdb_views()"
            " WHERE database_name = current_database() AND NOT temporary"
        ).fetchall()
    )


def changed_providers(
    con: duckdb.DuckDBPyConnection, models: list[Model], key: str, existing: set
) -> list[str] | None:
    """Providers whose staging rows differ from the last build's (new and vanished ones
    included), when the partitioned models can be rebuilt for them alone; None when the
    build must be whole: no earlier build state, other parameters or SQL, a partitioned
    model missing, or so many changed providers that a whole build is cheaper."""
    if not any(m.partitioned for m in models):
        return None
    if not {(BUILD_STATE, "table"), (INPUT_STATE, "table")} <= existing:
        return None
    if con.execute(f"SELECT build_key FROM {BUILD_STATE}").fetchall() != [(key,)]:
        return None
    built = {m.key for m in models}
    partitioned = [m for m in models if m.partitioned or m.by_person]
    if not all(set(m.deps) <= built and (m.key, m.materialized) in existing for m in partitioned):
        return None
    changed, providers, unnamed = con.execute(
        f"""SELECT list(DISTINCT provider_id ORDER BY provider_id)
                     FILTER (WHERE now_rows IS DISTINCT FROM old_rows
                             OR now_print IS DISTINCT FROM old_print),
                   count(DISTINCT provider_id), count(*) FILTER (WHERE provider_id IS NULL)
            FROM (SELECT table_name, provider_id, n.row_count AS now_rows,
                         n.fingerprint AS now_print, o.row_count AS old_rows,
                         o.fingerprint AS old_print
                  FROM mart_inputs_now n FULL JOIN {INPUT_STATE} o
                  USING (table_name, provider_id))"""
    ).fetchone()
    changed = changed or []
    if unnamed or len(changed) > MAX_CHANGED_SHARE * providers:
        return None
    return changed


def _remember_inputs(
    con: duckdb.DuckDBPyConnection,
    key: str,
    providers: list[str] | None,
    tables: list[str] | None,
    shared: dict[str, tuple[int, int]],
) -> None:
    """Keep the inputs' fingerprints, the shared models' and what this build did: its number
    (one more than the last), the providers whose rows it replaced and the mart tables it
    replaced them in (NULL: every mart built whole), so the publication can bring a copy of
    the last build up to date (`last_build`)."""
    previous = last_build(con)
    con.execute(f"CREATE OR REPLACE TABLE {INPUT_STATE} AS SELECT * FROM mart_inputs_now")
    con.execute(
        f"CREATE OR REPLACE TABLE {SHARED_STATE}"
        " (model VARCHAR, row_count BIGINT, fingerprint HUGEINT)"
    )
    if shared:
        con.executemany(
            f"INSERT INTO {SHARED_STATE} VALUES (?, ?, ?)",
            [(model, rows, total) for model, (rows, total) in shared.items()],
        )
    con.execute(
        f"CREATE OR REPLACE TABLE {BUILD_STATE} AS SELECT ? AS build_key,"
        " now()::TIMESTAMP AS built_at, ?::BIGINT AS build_no,"
        " ?::VARCHAR[] AS rebuilt_providers, ?::VARCHAR[] AS rebuilt_tables",
        [key, (previous.number if previous else 0) + 1, providers, tables],
    )
    con.execute("DROP TABLE mart_inputs_now")


@dataclass(frozen=True)
class LastBuild:
    number: int  # counts the builds of this warehouse
    rebuilt_providers: list[str] | None  # None: every mart was built whole
    rebuilt_tables: list[str] | None  # the mart tables whose rows of those providers it replaced

    @property
    def partial(self) -> bool:
        return self.rebuilt_providers is not None


def last_build(con: duckdb.DuckDBPyConnection) -> LastBuild | None:
    """What the last mart build did (None: no build recorded, or one before builds counted)."""
    columns = {name for name, _ in table_columns(con, BUILD_STATE)}
    if not {"build_no", "rebuilt_providers", "rebuilt_tables"} <= columns:
        return None  # none yet, or one written before builds were counted
    row = con.execute(
        f"SELECT build_no, rebuilt_providers, rebuilt_tables FROM {BUILD_STATE}"
    ).fetchone()
    return None if row is None or row[0] is None else LastBuild(int(row[0]), row[1], row[2])


class _Delta:
    """The partitioned models rebuilt for a few providers: each model's SQL runs with every
    reference swapped for a temp relation holding only those providers' rows (staging tables
    filtered, partitioned models' new rows; shared models and the parameters are read as they
    are), then the model's rows of those providers are replaced by them. Models run in
    dependency order, so a model's inputs are ready."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, models: list[Model], providers: list[str]
    ) -> None:
        self.con, self.providers = con, providers
        self.kept = {PARAMS_TABLE, *(m.key for m in models if m.shared)}
        self.in_list = "(" + ", ".join(lit(p) for p in providers) + ")"
        self.created: list[tuple[str, str]] = []
        if providers and any(m.by_person for m in models):
            # the persons of the changed providers' cases as they were, before PERSON_CASES
            # is rebuilt for them: a person whose case there vanished keeps affecting others
            self._create(
                "TABLE",
                "delta__persons_before",
                f"SELECT DISTINCT person_key FROM {PERSON_CASES}"
                f" WHERE provider_id IN {self.in_list} AND person_key IS NOT NULL",
            )
        if providers:
            for source in _partition_sources(models):
                self._create(
                    "VIEW",
                    self.name(source),
                    f"SELECT * FROM {source} WHERE provider_id IN {self.in_list}",
                )

    @staticmethod
    def name(key: str) -> str:
        return "delta__" + key.replace(".", "__")

    def _create(self, kind: str, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP {kind} {name} AS\n{sql}")
        self.created.append((kind, name))

    def build(self, model: Model) -> int | None:
        if self.providers:
            body = _REF.sub(
                lambda m: m.group(0) if m.group(0) in self.kept else self.name(m.group(0)),
                model.sql.strip().rstrip(";"),
            )
            kind = "VIEW" if model.materialized == "view" else "TABLE"
            self._create(kind, self.name(model.key), body)
            if kind == "TABLE":
                self.con.execute(f"DELETE FROM {model.key} WHERE provider_id IN {self.in_list}")
                self.con.execute(f"INSERT INTO {model.key} SELECT * FROM {self.name(model.key)}")
        if model.materialized == "view":
            return None
        return self.con.execute(f"SELECT count(*) FROM {model.key}").fetchall()[0][0]

    def build_for_persons(self, model: Model) -> int:
        """A `partitioned: person` model for the closed cases (`PERSON_ROWS`) of the changed
        providers and of every person with a case at one of them, before or after; all else
        it reads whole. Its other rows rest on none of the changed rows."""
        if self.providers:
            persons = (
                "SELECT person_key FROM delta__persons_before UNION SELECT person_key"
                f" FROM {PERSON_CASES} WHERE provider_id IN {self.in_list}"
                " AND person_key IS NOT NULL"
            )
            rows = "delta__person_rows"
            self._create(
                "TABLE",
                rows,
                f"SELECT * FROM {PERSON_ROWS} WHERE provider_id IN {self.in_list}"
                f" OR person_key IN ({persons})",
            )
            body = _REF.sub(
                lambda m: rows if m.group(0) == PERSON_ROWS else m.group(0),
                model.sql.strip().rstrip(";"),
            )
            self._create("TABLE", self.name(model.key), body)
            self.con.execute(
                f"DELETE FROM {model.key} AS t WHERE t.provider_id IN {self.in_list} OR EXISTS"
                f" (SELECT 1 FROM {rows} AS r WHERE r.provider_id = t.provider_id"
                " AND r.case_id = t.case_id)"
            )
            self.con.execute(f"INSERT INTO {model.key} SELECT * FROM {self.name(model.key)}")
        return self.con.execute(f"SELECT count(*) FROM {model.key}").fetchall()[0][0]

    def drop(self) -> None:
        for kind, name in reversed(self.created):
            self.con.execute(f"DROP {kind} IF EXISTS {name}")
