"""Where things live inside a workspace folder.

WORKSPACE/
  lagebild.duckdb        warehouse written by the pipeline (one writer)
  published/lagebild.duckdb   read-only copy for dashboards and reports (atomic swap)
  landing/<delivery_id>/ immutable copy of each accepted or checked delivery, with sha256
  quarantine/<delivery_id>/   quarantined deliveries, untouched (the only place that may
                         hold identifier values)
  reports/               generated reports
  themenspeicher.duckdb  theme register (status, owner body, decision notes); its own file so
                         it survives every re-run, re-delivery and warehouse rebuild
  users.yaml             dashboard users (salted argon2 hashes); .users.yaml.lock: one
                         change of the file at a time (dashboards/auth.py)
  audit/access.jsonl     access log (kernel/access_log.py); audit/login-throttle.json: failed
                         logins per name and client (dashboards/throttle.py)
  .dagster/              Dagster instance (runs, events); telemetry off
  logs/<run>.log         technical details (tracebacks) of runs that could not run
  lagebild.yaml          optional settings overrides

Everything in it is owner-only (kernel/private.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DAGSTER_YAML = """\
# Written by Lagebild. Nothing phones home.
telemetry:
  enabled: false
# Progress messages of the `lagebild` logger appear in the Dagster UI as well.
python_logs:
  managed_python_loggers:
    - lagebild
  python_log_level: INFO
"""


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / "lagebild.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.root / "published"

    @property
    def published_db_path(self) -> Path:
        return self.published_dir / "lagebild.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def register_db_path(self) -> Path:
        return self.root / "themenspeicher.duckdb"

    @property
    def users_file(self) -> Path:
        return self.root / "users.yaml"

    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lagebild.lock"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> Workspace:
        for d in (self.root, self.landing_dir, self.quarantine_dir, self.reports_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.ensure_dagster_home()
        return self

    def ensure_dagster_home(self) -> Path:
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        cfg = self.dagster_home / "dagster.yaml"
        if not cfg.exists():  # atomic: a concurrent reader never sees half a file
            tmp = cfg.with_name(f".dagster.yaml.{os.getpid()}.tmp")
            tmp.write_text(DAGSTER_YAML, encoding="utf-8")
            os.replace(tmp, cfg)
        return self.dagster_home
