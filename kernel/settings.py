"""All configuration in one place.

Defaults follow ../shared/spec/metrics.md and the domain guides (caseload benchmarks, 6- and
9-month rules). A workspace may override any of them in `WORKSPACE/lagebild.yaml`; nothing is
read from the environment at import time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Benchmark:
    """A caseload-per-FTE reference band shown beside the figure."""

    label: str
    low: float
    high: float


DEFAULT_BENCHMARKS = (
    Benchmark("Komplexes Case Management (max. 30)", 0, 30),
    Benchmark("JMD-Vereinbarung mit dem BMFSFJ (40–50)", 40, 50),
    Benchmark("KIM-NRW-Empfehlung bei gemischter Intensität (50–60)", 50, 60),
    Benchmark("Beobachteter JMD-Durchschnitt 2016 (80)", 80, 80),
    Benchmark("Nicht vertretbar (über 150)", 150, 150),
)


@dataclass(frozen=True)
class Settings:
    workspace: Path
    inbox: Path | None = None
    # Data cut-off. None: the earliest snapshot date among the providers' current deliveries
    # (nothing is counted beyond what every provider has reported; see docs/decisions.md).
    as_of: date | None = None
    # small numbers (statistische Geheimhaltung)
    suppression_k: int = 3
    # caseload per FTE
    benchmarks: tuple[Benchmark, ...] = DEFAULT_BENCHMARKS
    overload_threshold: float = 80.0  # "überlastet" in the steering-group report
    # re-entry and relapse
    windows: tuple[int, ...] = (183, 365, 730)
    transfer_max_days: int = 14  # 1..14 days after closure = transfer, from 15 = re-entry
    # process quality (JMD guide: Wiedervorlage after 6 months, anonymise after 9)
    review_due_days: int = 183
    close_due_days: int = 274
    followup_conversation_days: int = 183
    # generative themes
    theme_min_cases: int = 5
    theme_min_providers: int = 2
    theme_window_quarters: int = 4
    theme_text_topics: int = 8
    theme_exemplary_cases: int = 5
    seed: int = 20261121
    # dashboard security (docs/security.md)
    login_max_failures: int = 5  # failed logins of one user name (per hour), then a lockout
    login_client_max_failures: int = 20  # failed logins from one client address, then a lockout
    login_lockout_minutes: float = 15
    login_delay_seconds: float = 1.0  # waits after repeated failures: 1, 2, 4 … s (max 30 s)
    session_idle_minutes: float = 30  # a dashboard session without activity ends
    download_link_seconds: float = 30  # a download's URL works this long, in its browser only
    access_log_retention_days: int = 730  # WORKSPACE/audit/access.jsonl keeps two years
    # Behind a reverse proxy: the header it sets to the client's address (e.g. X-Forwarded-For,
    # rightmost entry). Only when the dashboard is reachable through that proxy alone.
    proxy_client_header: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ws(self):
        from kernel.workspace import Workspace

        return Workspace(self.workspace)

    def with_as_of(self, as_of: date | None) -> Settings:
        return dataclasses.replace(self, as_of=as_of)


def _coerce(name: str, value):
    if name == "benchmarks":
        return tuple(Benchmark(**b) for b in value)
    if name == "windows":
        return tuple(int(w) for w in value)
    if name == "as_of" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def load_settings(
    workspace: str | Path, inbox: str | Path | None = None, as_of: str | date | None = None
) -> Settings:
    """Settings for a workspace: defaults, then `WORKSPACE/lagebild.yaml`, then arguments."""
    workspace = Path(workspace).resolve()
    values: dict = {}
    override = workspace / "lagebild.yaml"
    if override.exists():
        raw = yaml.safe_load(override.read_text(encoding="utf-8")) or {}
        known = {f.name for f in dataclasses.fields(Settings)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"Unbekannte Einstellung(en) in {override}: {', '.join(unknown)}")
        values = {k: _coerce(k, v) for k, v in raw.items()}
    values["workspace"] = workspace
    if inbox:
        values["inbox"] = Path(inbox).resolve()
    if as_of:
        values["as_of"] = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
    return Settings(**values)
