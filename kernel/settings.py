"""All configuration in one place.

Defaults follow ../shared/spec/metrics.md and the domain guides (caseload benchmarks, 6- and
9-month rules). A workspace may override any of them in `WORKSPACE/lagebild.yaml`; nothing is
read from the environment at import time.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from kernel.errors import UserError


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
    # Limits of what one delivery may make the ingest do (exchange-format.md, "Limits").
    # Exceeding one quarantines the delivery before the work is done. Defaults that real
    # exports never reach.
    max_unpacked_bytes: int = 2_000_000_000  # all files of a delivery, unpacked (2 GB)
    max_compression_ratio: float = 100.0  # per zip entry (also inside an XLSX workbook)
    max_columns: int = 100  # per table (CSV header or sheet width)
    max_sheet_cells: int = 20_000_000  # rows x columns an XLSX sheet may span
    max_line_bytes: int = 4_000_000  # one CSV record; a longer record is rejected as a row
    # how long one delivery may take to open, read and check before it is quarantined
    delivery_timeout_seconds: float = 1800.0
    # how far before its landing a file time may lie in a workspace that has never landed
    # anything: older is taken as "not known" (docs/decisions.md, „Lieferungen, die den Lauf
    # für alle anhielten“); an office taking over an archive of older exports widens it
    first_receipt_days: int = 366
    # how long `lagebild run` waits for another run to release the workspace (0 = not at all)
    lock_wait_seconds: float = 30.0
    # DuckDB's memory for a run ("8GB", "60%"; None: DuckDB's default, 80 % of the RAM) and
    # where it spills beyond it (None: WORKSPACE/.spill): large inboxes spill to
    # disk instead of failing (issue 15)
    duckdb_memory_limit: str | None = None
    duckdb_temp_directory: str | None = None
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
    # Import thresholds (issue 13): a provider's new snapshot beyond one of them is `held` until
    # koordination releases or rejects it. Rules as in IMPORT_THRESHOLDS; in lagebild.yaml a rule
    # at the top level applies to every table, `tables: {name: {rule: value}}` to one table and
    # `providers: {provider_id: {rule: value, tables: {...}}}` overrides both for one provider.
    import_thresholds: dict = field(default_factory=dict)
    # Delivery calendar: expected cadence in months (3 = quarterly) and the day of the month
    # after a period's end by which its snapshot is due; `providers:` overrides per provider.
    delivery_cadence: dict = field(default_factory=dict)
    # `lagebild run` prints the three reports as PDF too (Chromium, ~3 s a run); otherwise only
    # when asked (`lagebild run --pdf`, `lagebild report --out ….pdf`); `lagebild demo` always
    report_pdf: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def ws(self):
        from kernel.workspace import Workspace

        return Workspace(self.workspace)

    def with_as_of(self, as_of: date | None) -> Settings:
        return dataclasses.replace(self, as_of=as_of)

    def threshold_rows(self) -> list[tuple[str | None, str | None, str, float]]:
        """(provider_id or None, table or None, rule, value): defaults first, then overrides."""
        t = self.import_thresholds
        base = {**IMPORT_THRESHOLDS, **{r: v for r, v in t.items() if r in IMPORT_THRESHOLDS}}
        out = [(None, None, rule, float(value)) for rule, value in base.items()]
        for table, rules in (t.get("tables") or {}).items():
            out += [(None, table, r, v) for r, v in rules.items()]
        for pid, p in (t.get("providers") or {}).items():
            out += [(pid, None, r, v) for r, v in p.items() if r in IMPORT_THRESHOLDS]
            for table, rules in (p.get("tables") or {}).items():
                out += [(pid, table, r, v) for r, v in rules.items()]
        return out

    def cadence(self, provider_id: str | None = None) -> tuple[int, int]:
        """(months per period, due day after the period's end) for a provider."""
        c = {
            **DELIVERY_CADENCE,
            **{k: v for k, v in self.delivery_cadence.items() if k != "providers"},
        }
        c.update((self.delivery_cadence.get("providers") or {}).get(provider_id) or {})
        return int(c["months"]), int(c["due_day"])


# rule -> default. Shares are fractions (0.3 = 30 %); min_rows: below it a table is too small
# for the count, share and fill rules; snapshot_older 1 = hold, 0 = do not.
IMPORT_THRESHOLDS = {
    "row_change": 0.30,  # rows loaded, against the current snapshot, either way
    "rejected_share": 0.05,  # rejected rows of the new delivery
    "closed_lost": 0.01,  # closed cases of the current snapshot missing from the new one
    "fill_drop": 0.10,  # drop of the filled share of an optional column (0.1 = 10 points)
    "snapshot_older": 1.0,  # snapshot date older than the current one
    "min_rows": 20.0,
}
DELIVERY_CADENCE = {"months": 3, "due_day": 15}


class InvalidValue(ValueError):
    """A value of lagebild.yaml rejected by our own checks; the text (German) tells the user why
    (errors raised by Python itself stay out of the message)."""


def _check_rules(rules, allowed: set[str]) -> dict:
    if not isinstance(rules, dict):
        raise InvalidValue("keine Einträge")
    for k, v in rules.items():
        if k not in allowed:
            raise InvalidValue("unbekannte Regel")
        if k in ("tables", "providers"):
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise InvalidValue("keine Zahl")
    return rules


def _check_thresholds(value) -> dict:
    rules = set(IMPORT_THRESHOLDS)
    _check_rules(value, rules | {"tables", "providers"})
    for t in (value.get("tables") or {}).values():
        _check_rules(t, rules)
    for p in (value.get("providers") or {}).values():
        _check_rules(p, rules | {"tables"})
        for t in (p.get("tables") or {}).values():
            _check_rules(t, rules)
    return value


def _check_cadence(value) -> dict:
    _check_rules(value, set(DELIVERY_CADENCE) | {"providers"})
    for p in (value.get("providers") or {}).values():
        _check_rules(p, set(DELIVERY_CADENCE))
    return value


class SettingsError(UserError):
    """`lagebild.yaml` cannot be used: the message says which entry and what to do."""


_NUMBER_FIELDS = {
    f.name: f.type for f in dataclasses.fields(Settings) if f.type in ("int", "float", int, float)
}


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$", re.IGNORECASE)


def _coerce(name: str, value):
    if name == "benchmarks":
        return tuple(Benchmark(**b) for b in value)
    if name == "import_thresholds":
        return _check_thresholds(value)
    if name == "delivery_cadence":
        return _check_cadence(value)
    if name == "windows":
        return tuple(int(w) for w in value)
    if name == "report_pdf":
        if not isinstance(value, bool):
            raise InvalidValue("erlaubt: true oder false")
        return value
    if name == "as_of" and isinstance(value, str):
        return date.fromisoformat(value)
    if name in ("duckdb_memory_limit", "duckdb_temp_directory") and value is None:
        return None  # DuckDB's default (a settings file may name the default explicitly)
    if name == "duckdb_memory_limit":
        if not isinstance(value, str) or not _MEMORY.match(value.strip()):
            raise InvalidValue("keine Speichergröße")
        return value.strip()
    if name == "duckdb_temp_directory":
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue("kein Ordner")
        return value.strip()
    kind = _NUMBER_FIELDS.get(name)
    if kind is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue("keine Zahl")
        if kind in ("int", int) and not float(value).is_integer():
            raise InvalidValue("keine ganze Zahl")
        if value < 0:
            raise InvalidValue("negativ")
        return int(value) if kind in ("int", int) else float(value)
    return value


def load_settings(
    workspace: str | Path,
    inbox: str | Path | None = None,
    as_of: str | date | None = None,
    report_pdf: bool | None = None,
) -> Settings:
    """Settings for a workspace: defaults, then `WORKSPACE/lagebild.yaml`, then arguments."""
    workspace = Path(workspace).resolve()
    values: dict = {}
    override = workspace / "lagebild.yaml"
    if override.is_file():
        values = _read_overrides(override)
    values["workspace"] = workspace
    if inbox:
        values["inbox"] = Path(inbox).resolve()
    if as_of:
        values["as_of"] = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
    if report_pdf is not None:
        values["report_pdf"] = report_pdf
    return Settings(**values)


def _read_overrides(path: Path) -> dict:
    """The entries of `lagebild.yaml`, checked; any problem is one German sentence."""
    remedy = "Bitte die Datei korrigieren oder entfernen (dann gelten die Standardwerte)."
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"Die Einstellungsdatei {path} ist nicht lesbar. {remedy}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (Zeile {mark.line + 1})" if mark is not None else ""
        raise SettingsError(
            f"Die Einstellungsdatei {path} ist kein gültiges YAML{where}. {remedy}"
        ) from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SettingsError(
            f"Die Einstellungsdatei {path} muss aus Einträgen „name: wert“ bestehen. {remedy}"
        )
    known = {f.name for f in dataclasses.fields(Settings)} - {"workspace", "extra"}
    unknown = sorted(str(k) for k in set(raw) - known)
    if unknown:
        raise SettingsError(f"Unbekannte Einstellung(en) in {path}: {', '.join(unknown)}. {remedy}")
    values = {}
    for k, v in raw.items():
        try:
            values[k] = _coerce(k, v)
        except (TypeError, ValueError, AttributeError) as exc:
            why = f" ({exc})" if isinstance(exc, InvalidValue) else ""
            raise SettingsError(
                f"Die Einstellung „{k}“ in {path} hat einen ungültigen Wert{why}. {remedy}"
            ) from exc
    return values
