"""Releases: immutable, reproducible publications of a report.

    WORKSPACE/releases/<release_id>/
      bericht.html  bericht.pdf  bericht.xlsx   the report; every page names the release id
      zellen.csv                                every published cell (table, row, column,
                                                value as shown, suppression mark)
      themenspeicher.duckdb                     the theme register as it was (theme ids)
      manifest.json                             what the release rests on, and the SHA-256 of
                                                every file above
    WORKSPACE/releases/register.jsonl          append-only: who made which release when

The manifest names every delivery landed at the time (SHA-256, landing path, status), the
data cut-off, the contract and metric-definition versions, the code version, the settings
that affect figures and k, so `lagebild verify` can rebuild the release from its inputs alone
(pipelines/commands/release.py). A release folder is read-only; no run touches it.
"""

from __future__ import annotations

import csv
import dataclasses
import getpass
import hashlib
import io
import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from dashboards import catalog, read
from dashboards.read.scope import one_connection
from dashboards.reports.definitions import VERSION as METRICS_VERSION
from dashboards.reports.model import KINDS, Report, ReportError
from data_contracts.contract import CONTRACT_FILE, load_contract
from kernel import decisions, publications
from kernel.settings import Settings
from kernel.workspace import Workspace
from transforms.dictionary import MARTS_FILE

FILES = ("bericht.html", "bericht.pdf", "bericht.xlsx", "zellen.csv", "themenspeicher.duckdb")
CELL_COLUMNS = ("table", "row", "column", "value", "suppression")
REPO = Path(__file__).resolve().parents[2]


def releases_dir(ws: Workspace) -> Path:
    return ws.root / "releases"


RELEASE_ID = re.compile(r"(lenkungsgruppe|evaluation|foerderer)-\d{4}-Q[1-4]-\d{8}-\d{6}")


def checked_id(release_id: str) -> str:
    """A release id as `new_release_id` makes it; anything else (a path) is refused."""
    if not RELEASE_ID.fullmatch(str(release_id)):
        raise ReportError(f"„{str(release_id)[:60]}“ ist keine Kennung einer Veröffentlichung.")
    return release_id


def lineage_snapshot(workspace: str | Path, release_id: str) -> Path:
    """Where `verify --keep` leaves the rebuilt published copy of a release: the snapshot
    the drill-down of that release's cells reads (never today's data). Private to the office
    like the warehouse; outside the release folder, which stays as it was made."""
    return Workspace(Path(workspace).resolve()).root / "herkunft" / checked_id(release_id)


def register_file(ws: Workspace) -> Path:
    return releases_dir(ws) / "register.jsonl"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# the published cells of a report, canonical


def report_cells(report: Report) -> pd.DataFrame:
    """Every cell of every table of the report as shown: table, row key (the row's dimension
    values), column heading, value as shown, suppression mark ('', primary, secondary,
    rate). Sorted, so two builds of the same release compare line by line."""
    out = []
    for t in report.tables():
        pub = t.pub.drop(t.drop) if t.drop else t.pub
        shown = catalog.show(pub)
        columns = list(pub.table.columns)
        # the status of a provider's delivery ("veraltet" counts from today) describes the
        # data situation, it is no published figure: not a cell, so verify stays exact
        skip = {columns.index("trust")} if "trust" in columns else set()
        dims = [j for j, c in enumerate(columns) if _is_key(c) and j not in skip]
        seen: dict[str, int] = {}
        for i in range(len(shown)):
            key = " | ".join(f"{catalog.label(columns[j])}={shown.iat[i, j]}" for j in dims)
            seen[key] = seen.get(key, 0) + 1
            key += f" #{seen[key]}" if seen[key] > 1 else ""
            for j, col in enumerate(columns):
                if j not in dims and j not in skip:
                    out.append(
                        (
                            t.sheet,
                            key,
                            catalog.label(col),
                            str(shown.iat[i, j]),
                            str(pub.flags.iat[i, j]),
                        )
                    )
    df = pd.DataFrame(out, columns=list(CELL_COLUMNS))
    return df.sort_values(list(CELL_COLUMNS[:3]), kind="stable").reset_index(drop=True)


def _is_key(column: str) -> bool:
    """Columns that say what a row is about (and the window of a re-entry row)."""
    f = catalog.figure(column)
    return column == "window_days" or (f is not None and f.cls == catalog.DIMENSION)


def cells_csv(cells: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    cells.to_csv(buf, index=False, quoting=csv.QUOTE_ALL, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def compare_cells(released: pd.DataFrame, rebuilt: pd.DataFrame) -> pd.DataFrame:
    """Cells that differ (or exist on one side only): table, row, column, before, after."""
    keys = list(CELL_COLUMNS[:3])
    both = released.merge(rebuilt, on=keys, how="outer", suffixes=("_before", "_after"))
    changed = (both["value_before"] != both["value_after"]) | (
        both["suppression_before"] != both["suppression_after"]
    )
    return both[changed.fillna(True)].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# what a release rests on


def code_version() -> dict:
    """Package version and, when the code runs from a git checkout, the commit."""
    out = {"package": metadata.version("lagebild")}
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            out["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


# settings that change no figure: where things are, how much memory a run may use, and whether a
# run also prints PDFs (kept out of release manifests and out of their comparison, also for
# manifests written before the setting existed)
NOT_FIGURE_SETTINGS = (
    "workspace",
    "inbox",
    "as_of",
    "extra",
    "duckdb_memory_limit",
    "duckdb_temp_directory",
    "report_pdf",
)


def figure_settings(settings: Settings) -> dict:
    """The settings that affect figures (NOT_FIGURE_SETTINGS left out)."""
    values = dataclasses.asdict(settings)
    for key in NOT_FIGURE_SETTINGS:
        values.pop(key, None)
    return json.loads(json.dumps(values, default=str))


def deliveries_at_release(ws: Workspace) -> list[dict]:
    """Every delivery landed so far, with the files verify replays (duplicates have none)."""
    src = read.Source.of(ws.root)
    with src.read() as con:
        rows = con.execute(
            """SELECT l.delivery_id, l.source_name, l.sha256, l.received_at, l.landed_path,
                      l.duplicate_of, d.provider_id, d.status, d.current_tables
               FROM audit.landing l LEFT JOIN audit.deliveries d USING (delivery_id)
               ORDER BY l.received_at, l.delivery_id"""
        ).df()
    out = []
    for r in rows.itertuples(index=False):
        out.append(
            {
                "delivery_id": r.delivery_id,
                "source_name": r.source_name,
                "sha256": r.sha256,
                "received_at": str(r.received_at),
                "landing_path": r.landed_path,
                "duplicate_of": r.duplicate_of if isinstance(r.duplicate_of, str) else None,
                "provider_id": r.provider_id if isinstance(r.provider_id, str) else None,
                "status": r.status if isinstance(r.status, str) else "offen",
                "current_tables": list(r.current_tables)
                if r.current_tables is not None and len(r.current_tables)
                else [],
            }
        )
    return out


def versions() -> dict:
    return {
        "contract": {"version": load_contract().version, "sha256": sha256_file(CONTRACT_FILE)},
        "metrics": {"version": METRICS_VERSION, "sha256": sha256_file(MARTS_FILE)},
        "code": code_version(),
    }


# ---------------------------------------------------------------------------------------------
# making a release


def new_release_id(kind: str, period: str, now: datetime) -> str:
    return f"{kind}-{period}-{now:%Y%m%d-%H%M%S}"


def make_release(
    workspace: str | Path,
    kind: str,
    period: str,
    *,
    note: str | None = None,
    user: str | None = None,
    pdf: bool = True,
) -> Path:
    """Write a release of the report `kind` for `period` and register it; returns its folder."""
    from dashboards.reports import build_report, write
    from dashboards.reports.render import render_html, write_pdf_page

    if kind not in KINDS:
        raise ReportError(f"Unbekannte Berichtsart '{kind}'.")
    ws = Workspace(Path(workspace).resolve())
    src = read.Source.of(ws.root)
    now = datetime.now(UTC).replace(microsecond=0)
    release_id = new_release_id(kind, period, now)
    with one_connection(remember=True):  # its ~40 queries over one connection of the copy
        report = build_report(src, kind, period, src.viewer("koordination"))
    report = dataclasses.replace(report, release_id=release_id)
    folder = releases_dir(ws) / release_id
    if folder.exists():
        raise ReportError(f"Die Veröffentlichung {release_id} gibt es schon.")
    tmp = releases_dir(ws) / f".{release_id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        # Chromium prints the PDF (about a second, in a process of its own) while this thread
        # writes the other files. The page is rendered here first: plotly's figures are not
        # safe to read from two threads at once (a KeyError in plotly when both did)
        page = render_html(report, for_print=True) if pdf else None
        with ThreadPoolExecutor(max_workers=1) as pool:
            printing = pool.submit(write_pdf_page, page, tmp / "bericht.pdf") if pdf else None
            for name in ("bericht.html", "bericht.xlsx"):
                write(report, tmp / name)
            (tmp / "zellen.csv").write_bytes(cells_csv(report_cells(report)))
            if ws.register_db_path.exists():
                shutil.copy2(ws.register_db_path, tmp / "themenspeicher.duckdb")
            if printing is not None:
                printing.result()  # its failure (ReportError) is the release's
        manifest = {
            "release_id": release_id,
            "kind": kind,
            "title": KINDS[kind],
            "period": period,
            "as_of": str(report.basis.as_of) if report.basis.as_of else None,
            "created_at": now.isoformat(),
            "created_by": user or _os_user(),
            "note": note,
            "suppression_k": src.settings.suppression_k,
            "settings": figure_settings(src.settings),
            **versions(),
            "deliveries": deliveries_at_release(ws),
            # releases and rejects of held deliveries (issue 13): verify's replay needs them
            # (which delivery, release or reject, when — not who or why: a reason is free text)
            "delivery_decisions": [
                {k: e.get(k) for k in ("kind", "delivery_id", "action", "at")}
                for e in decisions.read(ws.root, "delivery")
            ],
            # the provider sets published before (kernel.publications): who joined since is
            # protected in the grid, and verify's rebuild must protect the same providers
            "earlier_publications": publications.as_lists(publications.published_sets(ws.root)),
            "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir())},
        }
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8"
        )
        for p in tmp.iterdir():
            p.chmod(0o400)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed release leaves nothing behind
        raise
    folder.chmod(0o500)
    _register(ws, manifest)
    return folder


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return None


def _register(ws: Workspace, manifest: dict) -> None:
    entry = {
        k: manifest[k]
        for k in ("release_id", "kind", "period", "as_of", "created_at", "created_by", "note")
    }
    with open(register_file(ws), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def list_releases(workspace: str | Path) -> pd.DataFrame:
    """The release register, newest first."""
    path = register_file(Workspace(Path(workspace).resolve()))
    if not path.exists():
        return pd.DataFrame(
            columns=["release_id", "kind", "period", "as_of", "created_at", "created_by", "note"]
        )
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return pd.DataFrame(rows).iloc[::-1].reset_index(drop=True)


def load_manifest(workspace: str | Path, release_id: str) -> dict:
    folder = releases_dir(Workspace(Path(workspace).resolve())) / checked_id(release_id)
    path = folder / "manifest.json"
    if not path.exists():
        raise ReportError(f"Eine Veröffentlichung {release_id} gibt es nicht.")
    return json.loads(path.read_text(encoding="utf-8"))


def tampered_files(workspace: str | Path, manifest: dict) -> list[str]:
    """Files of the release that are missing, changed or added since it was made."""
    folder = releases_dir(Workspace(Path(workspace).resolve())) / manifest["release_id"]
    out = []
    present = {p.name for p in folder.iterdir()} - {"manifest.json"}
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.exists():
            out.append(f"{name} fehlt")
        elif sha256_file(path) != digest:
            out.append(f"{name} wurde verändert")
    out += [f"{name} ist hinzugekommen" for name in sorted(present - set(manifest["files"]))]
    return out


def released_cells(workspace: str | Path, release_id: str) -> pd.DataFrame:
    folder = releases_dir(Workspace(Path(workspace).resolve())) / checked_id(release_id)
    return pd.read_csv(folder / "zellen.csv", dtype=str, keep_default_na=False)


# ---------------------------------------------------------------------------------------------
# the report history: who may see which releases, and what changed between two of them

# A release is a publication for its audience (docs/decisions.md "Berichtsarchiv"): the
# steering group (koordination, evaluation, the providers sitting in it), the evaluators,
# the funders. Koordination and evaluation see every release.
READERS = {
    "lenkungsgruppe": ("koordination", "evaluation", "traeger"),
    "evaluation": ("koordination", "evaluation"),
    "foerderer": ("koordination", "evaluation", "foerderer"),
}
REPORT_FILES = {"bericht.pdf": "PDF", "bericht.html": "HTML", "bericht.xlsx": "XLSX"}
# what a release rests on (deliveries, code, settings) is internal to the office
MANIFEST_READERS = ("koordination", "evaluation")


def releases_for(workspace: str | Path, role: str) -> pd.DataFrame:
    """The register entries a role may see, newest first."""
    df = list_releases(workspace)
    allowed = [kind for kind, roles in READERS.items() if role in roles]
    return df[df["kind"].isin(allowed)].reset_index(drop=True)


def release_file(workspace: str | Path, release_id: str, name: str) -> bytes:
    if name not in REPORT_FILES and name != "zellen.csv":
        raise ReportError(f"Die Datei {name} gehört nicht zu einer Veröffentlichung.")
    folder = releases_dir(Workspace(Path(workspace).resolve())) / checked_id(release_id)
    return (folder / name).read_bytes()


def _current(manifest: dict) -> dict[str, dict]:
    """provider -> the delivery the release's figures rest on (its current one then)."""
    return {
        d["provider_id"]: d
        for d in manifest["deliveries"]
        if d.get("provider_id") and d.get("current_tables")
    }


@dataclasses.dataclass
class ReleaseChange:
    """What differs between an earlier and a later release of the same report."""

    cells: pd.DataFrame  # table, row, column, value/suppression before and after
    new_providers: list[str]
    new_snapshots: list[str]  # providers whose current delivery is another one
    gone_providers: list[str]
    code_changed: bool
    settings_changed: list[str]  # names of figure settings that changed (k included)
    definitions_changed: list[str]  # "Datenvertrag", "Kennzahlen-Definitionen"

    def reasons(self) -> list[str]:
        """German sentences: why cells may have moved."""
        out = []
        if self.new_providers:
            out.append("neue Träger: " + ", ".join(self.new_providers))
        if self.new_snapshots:
            out.append("neue oder korrigierte Lieferungen von: " + ", ".join(self.new_snapshots))
        if self.gone_providers:
            out.append("ohne aktuelle Lieferung: " + ", ".join(self.gone_providers))
        if self.definitions_changed:
            out.append("geändert: " + ", ".join(self.definitions_changed))
        if self.settings_changed:
            out.append("geänderte Einstellungen: " + ", ".join(self.settings_changed))
        if self.code_changed:
            out.append("andere Programmversion")
        return out


def compare_releases(workspace: str | Path, earlier: str, later: str) -> ReleaseChange:
    """The cells that moved between two releases and what their inputs say about why."""
    a, b = load_manifest(workspace, earlier), load_manifest(workspace, later)
    if a["kind"] != b["kind"]:
        raise ReportError("Verglichen werden nur Veröffentlichungen derselben Berichtsart.")
    before, after = _current(a), _current(b)
    settings = {**a["settings"], "suppression_k": a["suppression_k"]}
    settings_b = {**b["settings"], "suppression_k": b["suppression_k"]}
    return ReleaseChange(
        cells=compare_cells(released_cells(workspace, earlier), released_cells(workspace, later)),
        new_providers=sorted(set(after) - set(before)),
        new_snapshots=sorted(
            p
            for p in set(after) & set(before)
            if after[p]["delivery_id"] != before[p]["delivery_id"]
        ),
        gone_providers=sorted(set(before) - set(after)),
        code_changed=a["code"] != b["code"],
        settings_changed=sorted(
            k
            for k in set(settings) | set(settings_b)
            if settings.get(k) != settings_b.get(k) and k not in NOT_FIGURE_SETTINGS
        ),
        definitions_changed=[
            label
            for key, label in (("contract", "Datenvertrag"), ("metrics", "Kennzahlen-Definitionen"))
            if a[key] != b[key]
        ],
    )
