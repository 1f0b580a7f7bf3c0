"""DuckDB table definitions generated from the contract.

`staging.<table>` holds the typed rows of each provider's current delivery (the newest
accepted snapshot that contains that table), one column per contract column plus the
`delivery_id` it came from. Marts read only these tables.
"""

from __future__ import annotations

from data_contracts.contract import Contract, Table, load_contract

SQL_TYPES = {
    "text": "VARCHAR",
    "code": "VARCHAR",
    "date": "DATE",
    "bool": "BOOLEAN",
    "decimal": "DOUBLE",
}


def staging_columns(table: Table) -> list[tuple[str, str]]:
    """(column, SQL type) in contract order, then delivery_id."""
    return [(c.name, SQL_TYPES[c.type]) for c in table.columns] + [("delivery_id", "VARCHAR")]


def staging_ddl(contract: Contract | None = None) -> str:
    contract = contract or load_contract()
    parts = ["CREATE SCHEMA IF NOT EXISTS staging;"]
    for table in contract.tables.values():
        cols = ",\n  ".join(f"{name} {typ}" for name, typ in staging_columns(table))
        parts.append(f"CREATE TABLE IF NOT EXISTS staging.{table.name} (\n  {cols}\n);")
    return "\n".join(parts)


AUDIT_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.deliveries (
  delivery_id VARCHAR PRIMARY KEY,   -- first 16 hex digits of sha256
  provider_id VARCHAR,               -- NULL when the delivery could not be attributed
  source_name VARCHAR NOT NULL,      -- file or folder name in the inbox
  sha256 VARCHAR NOT NULL,
  received_at TIMESTAMP NOT NULL,    -- its receipt: the file time where plausible, else landing
  landed_at TIMESTAMP NOT NULL,      -- when Lagebild copied it into the landing zone
  exported_on DATE,                  -- manifest exported_on, if given
  snapshot_on DATE NOT NULL,         -- exported_on, else the date of received_at
  format VARCHAR,                    -- csv, xlsx, zip+csv, zip+xlsx, folder+csv ...
  tables VARCHAR[],                  -- tables the delivery contains
  current_tables VARCHAR[],          -- tables for which it is the provider's current snapshot
  status VARCHAR NOT NULL,           -- accepted, partial, held, rejected, quarantined, duplicate,
                                     -- superseded
  rows_received INTEGER NOT NULL,
  rows_loaded INTEGER NOT NULL,
  rows_rejected INTEGER NOT NULL,
  message VARCHAR,
  run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS audit.landing (
  delivery_id VARCHAR PRIMARY KEY,
  source_name VARCHAR NOT NULL,
  sha256 VARCHAR NOT NULL,
  received_at TIMESTAMP NOT NULL,
  landed_at TIMESTAMP NOT NULL,
  landed_path VARCHAR,               -- NULL for a duplicate (the bytes are already landed) and
                                     -- for an entry that is not copied (symlink, FIFO, too big)
  duplicate_of VARCHAR,
  processed BOOLEAN NOT NULL DEFAULT false,
  attempts INTEGER NOT NULL DEFAULT 0,  -- times processing started (a crash leaves it > 0)
  landing_faults VARCHAR[]           -- structural faults found while landing (German)
);
ALTER TABLE audit.landing ADD COLUMN IF NOT EXISTS attempts INTEGER DEFAULT 0;
ALTER TABLE audit.landing ADD COLUMN IF NOT EXISTS landing_faults VARCHAR[];
CREATE TABLE IF NOT EXISTS audit.delivery_tables (
  delivery_id VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  file_name VARCHAR,
  rows_received INTEGER NOT NULL,
  rows_loaded INTEGER NOT NULL,
  rows_rejected INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, table_name)
);
CREATE TABLE IF NOT EXISTS audit.rejections (
  delivery_id VARCHAR NOT NULL,
  table_name VARCHAR,                -- NULL for a quarantine cause not tied to a table
  file_name VARCHAR,
  line INTEGER,                      -- line in the file as a spreadsheet shows it (header = 1)
  column_name VARCHAR,
  reason VARCHAR NOT NULL,           -- German, never repeats the offending value
  kind VARCHAR NOT NULL              -- 'row' (row rejected) or 'quarantine' (whole delivery)
);
-- Why a delivery was held (issue 13): one row per threshold it went beyond. Kept after a
-- release or reject (the decision is in audit.delivery_decisions).
CREATE TABLE IF NOT EXISTS audit.holds (
  delivery_id VARCHAR NOT NULL,
  provider_id VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  rule VARCHAR NOT NULL,             -- row_change, rejected_share, closed_lost, fill_drop,
                                     -- snapshot_older
  column_name VARCHAR,               -- fill_drop: the optional column
  before_value DOUBLE,               -- the figure of the current snapshot
  after_value DOUBLE,                -- the figure of the held delivery
  threshold DOUBLE,
  reason VARCHAR NOT NULL            -- German: figure before -> after, threshold
);
-- Release and reject decisions of koordination, copied from WORKSPACE/audit/decisions.jsonl
-- (append-only) by the run that applies them.
CREATE TABLE IF NOT EXISTS audit.delivery_decisions (
  delivery_id VARCHAR NOT NULL,
  action VARCHAR NOT NULL,           -- release, reject
  reason VARCHAR NOT NULL,
  decided_by VARCHAR,
  decided_at TIMESTAMP NOT NULL,
  applied_run_id VARCHAR
);
-- The scorecard of every snapshot (transforms/scorecard.py), appended by each marts build:
-- the base of the scorecard's trend against a provider's previous snapshots.
CREATE TABLE IF NOT EXISTS audit.scorecard_history (
  provider_id VARCHAR,
  delivery_id VARCHAR,
  snapshot_on DATE,
  rule VARCHAR,
  table_name VARCHAR,
  column_name VARCHAR,
  value DOUBLE,
  badness DOUBLE,
  flagged BOOLEAN,
  recorded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS audit.runs (
  run_id VARCHAR,
  stage VARCHAR,
  started_at TIMESTAMP,
  seconds DOUBLE,
  peak_rss_mb DOUBLE,
  detail VARCHAR
);
"""

META_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
-- One row: the data basis of the last run, shown on every dashboard view and report.
CREATE TABLE IF NOT EXISTS meta.data_basis (
  as_of DATE,                 -- Datenstand: every open interval ends here
  as_of_source VARCHAR,       -- 'argument' (--as-of) or 'lieferungen' (earliest current snapshot)
  providers INTEGER,          -- providers with a current delivery
  deliveries INTEGER,         -- deliveries that supply at least one current table
  built_at TIMESTAMP,
  run_id VARCHAR
);
"""


# Optional columns whose share of filled values is a quality figure (import threshold
# `fill_drop`, scorecard completeness). Left out: columns whose emptiness has a meaning
# ("empty = open", "required when closed", "not yet started", "still valid").
NOT_QUALITY_COLUMNS = frozenset(
    {"closed_on", "close_reason", "started_on", "valid_to", "previous_case_id", "status_on"}
)


def quality_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if not c.required and c.name not in NOT_QUALITY_COLUMNS]


def create_all(con) -> None:
    """Create the staging, audit and meta schemas and tables if they do not exist."""
    con.execute(staging_ddl())
    con.execute(AUDIT_DDL)
    con.execute(META_DDL)
