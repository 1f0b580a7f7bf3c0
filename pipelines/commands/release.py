"""`lagebild release`, `lagebild releases list` and `lagebild verify`: immutable publications
and the proof that they still come out the same.

Verification rebuilds a release in a temporary workspace from exactly the deliveries its
manifest names (landed copies, replayed in their original order, with their receipt times),
with the release's settings, data cut-off and theme register — ignoring every later delivery —
and compares every published cell. Files changed in the release folder are tampering.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from dashboards.reports.model import ReportError
from dashboards.reports.release import (
    compare_cells,
    lineage_snapshot,
    list_releases,
    load_manifest,
    make_release,
    released_cells,
    releases_dir,
    report_cells,
    tampered_files,
    versions,
)
from kernel import publications
from kernel.errors import UserError
from kernel.settings import load_settings
from kernel.workspace import Workspace


@dataclass
class Verification:
    release_id: str
    identical: bool
    tampered: list[str] = field(default_factory=list)
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    inputs_changed: list[str] = field(default_factory=list)
    inputs_missing: list[str] = field(default_factory=list)
    code_changed: bool = False


def _landed_file(ws: Workspace, delivery: dict) -> Path | None:
    """Where the landed copy of a delivery lies now (landing, or quarantine after judgement)."""
    candidates = []
    if delivery.get("landing_path"):
        candidates.append(ws.root / delivery["landing_path"])
    for zone in (ws.landing_dir, ws.quarantine_dir):
        candidates.append(zone / delivery["delivery_id"] / delivery["source_name"])
    return next((p for p in candidates if p.exists()), None)


def replay_rounds(deliveries: list[dict]) -> list[list[dict]]:
    """The deliveries to replay, in receipt order; a name that came twice goes to a later
    round (an inbox holds one entry per name). Duplicates (same bytes) need no replay."""
    rounds: list[list[dict]] = []
    for d in sorted(deliveries, key=lambda d: (d["received_at"], d["delivery_id"])):
        if d.get("duplicate_of"):
            continue
        target = next(
            (r for r in rounds if all(x["source_name"] != d["source_name"] for x in r)), None
        )
        if target is None:
            rounds.append(target := [])
        target.append(d)
    return rounds


def _copy_into(src: Path, inbox: Path) -> None:
    dst = inbox / src.name
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=shutil.copy2)
        shutil.copystat(src, dst)
    else:
        shutil.copy2(src, dst)
    for p in [dst, *dst.rglob("*")] if dst.is_dir() else [dst]:
        p.chmod(p.stat().st_mode | 0o200)  # the replay's inbox, not the immutable landing zone


def _keep_snapshot(ws: Workspace, release_id: str, rebuilt: Workspace) -> Path:
    target = lineage_snapshot(ws.root, release_id)
    tmp = target.with_name(f".{release_id}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "published").mkdir(parents=True, mode=0o700)
    shutil.copy2(rebuilt.published_db_path, tmp / "published" / rebuilt.published_db_path.name)
    shutil.copy2(rebuilt.root / "lagebild.yaml", tmp / "lagebild.yaml")
    for p in (tmp, tmp / "published", *tmp.rglob("*")):
        p.chmod(0o700 if p.is_dir() else 0o600)
    target.parent.chmod(0o700)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def verify(
    workspace: str | Path, release_id: str, progress=print, *, keep: bool = False
) -> Verification:
    """Rebuild the release from its inputs and compare every published cell; `keep` leaves
    the rebuilt published copy for the drill-down of the release (`lineage_snapshot`).
    `progress` also gets the rebuild's lines of a long run, from another thread."""
    import dagster as dg

    from dashboards.read import Source
    from dashboards.reports import build_report
    from pipelines.ingest.landing import sha256_of
    from pipelines.runner import run_pipeline

    ws = Workspace(Path(workspace).resolve())
    manifest = load_manifest(ws.root, release_id)
    result = Verification(release_id, identical=False)
    result.tampered = tampered_files(ws.root, manifest)
    folder = releases_dir(ws) / release_id
    with tempfile.TemporaryDirectory(prefix="lagebild-verify-") as tmp:
        tmp_ws, inbox = Path(tmp) / "ws", Path(tmp) / "inbox"
        tmp_ws.mkdir()
        (tmp_ws / "lagebild.yaml").write_text(
            yaml.safe_dump(manifest["settings"], allow_unicode=True), encoding="utf-8"
        )
        register = folder / "themenspeicher.duckdb"
        if register.exists():
            shutil.copy2(register, tmp_ws / "themenspeicher.duckdb")
            (tmp_ws / "themenspeicher.duckdb").chmod(0o600)
        if manifest.get("delivery_decisions"):  # held deliveries released or rejected
            (tmp_ws / "audit").mkdir(mode=0o700)
            (tmp_ws / "audit" / "decisions.jsonl").write_text(
                "".join(
                    json.dumps(e, ensure_ascii=False) + "\n" for e in manifest["delivery_decisions"]
                ),
                encoding="utf-8",
            )
        # the provider sets published before the release: the same providers protected
        publications.seed(tmp_ws, manifest.get("earlier_publications") or [])
        as_of = date.fromisoformat(manifest["as_of"]) if manifest.get("as_of") else None
        rounds = replay_rounds(manifest["deliveries"])
        for n, batch in enumerate(rounds, 1):
            shutil.rmtree(inbox, ignore_errors=True)
            inbox.mkdir()
            for d in batch:
                src = _landed_file(ws, d)
                if src is None:
                    result.inputs_missing.append(d["delivery_id"])
                    continue
                if sha256_of(src) != d["sha256"]:
                    result.inputs_changed.append(d["delivery_id"])
                _copy_into(src, inbox)
            progress(f"Nachbau {n}/{len(rounds)}: {len(batch)} Lieferungen …")
            settings = load_settings(tmp_ws, inbox, as_of)
            outcome = run_pipeline(
                settings,
                selection=dg.AssetSelection.all() - dg.AssetSelection.assets("reports"),
                on_progress=lambda line: progress(f"  {line}"),  # a rebuild takes minutes too
            )
            if not outcome.success:
                raise UserError(
                    "Der Nachbau ist nicht durchgelaufen: " + "; ".join(outcome.failures[:3])
                )
        src = Source.of(tmp_ws)
        report = build_report(src, manifest["kind"], manifest["period"], src.viewer("koordination"))
        report = dataclasses.replace(report, release_id=release_id)
        rebuilt = report_cells(report)
        if keep:
            _keep_snapshot(ws, release_id, Workspace(tmp_ws))
    result.differences = compare_cells(released_cells(ws.root, release_id), rebuilt)
    now = versions()["code"]
    result.code_changed = now.get("git_commit", now["package"]) != manifest["code"].get(
        "git_commit", manifest["code"]["package"]
    )
    result.identical = result.differences.empty and not result.tampered
    return result


# ---------------------------------------------------------------------------------------------
# command line


def cli_release(args) -> int:
    try:
        folder = make_release(args.workspace, args.kind, args.period, note=args.note)
    except ReportError as exc:
        raise UserError(str(exc)) from exc
    print(f"Veröffentlichung {folder.name} geschrieben: {folder}")
    print(f"Prüfen mit: lagebild verify {folder.name} --workspace {Path(args.workspace).resolve()}")
    return 0


def cli_releases(args) -> int:
    df = list_releases(args.workspace)
    if df.empty:
        print("Noch keine Veröffentlichungen. Anlegen mit: lagebild release --kind … --period …")
        return 0
    for r in df.itertuples(index=False):
        who = f" von {r.created_by}" if isinstance(r.created_by, str) and r.created_by else ""
        note = f" – {r.note}" if isinstance(r.note, str) and r.note else ""
        print(f"{r.release_id}  Datenstand {r.as_of}, erstellt {r.created_at}{who}{note}")
    return 0


def cli_verify(args) -> int:
    try:
        result = verify(args.workspace, args.release_id, keep=args.keep)
    except ReportError as exc:
        raise UserError(str(exc)) from exc
    if result.tampered:
        print("Manipulation: Dateien der Veröffentlichung stimmen nicht mit dem Manifest überein:")
        for t in result.tampered:
            print(f"  - {t}")
    if args.keep:
        print(
            "Stand der Veröffentlichung für „Wie entsteht diese Zahl?“ im Berichtsarchiv:"
            f" {lineage_snapshot(args.workspace, result.release_id)}"
        )
    if result.identical:
        print(f"{result.release_id}: identisch – jede veröffentlichte Zelle kommt gleich heraus.")
        return 0
    if not result.differences.empty:
        print(f"{result.release_id}: {len(result.differences)} Zellen weichen ab:")
        for r in result.differences.head(30).itertuples(index=False):
            print(f"  - {r.table} · {r.row} · {r.column}: {r.value_before} → {r.value_after}")
        causes = []
        if result.code_changed:
            causes.append("der Programmcode hat sich geändert")
        if result.inputs_changed:
            causes.append(f"{len(result.inputs_changed)} gelandete Lieferungen wurden verändert")
        if result.inputs_missing:
            causes.append(f"{len(result.inputs_missing)} gelandete Lieferungen fehlen")
        print("Mögliche Ursache: " + ("; ".join(causes) if causes else "unbekannt"))
    return 1
