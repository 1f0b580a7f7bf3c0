"""Inbox -> landing zone: an immutable, hashed copy of every new delivery.

A delivery is a folder, a .zip, an .xlsx workbook or a single .csv directly in the inbox. Its
identity is (sha256 of its bytes, name in the inbox): the same bytes under the same name are
already known and skipped (a re-run changes nothing); the same bytes under another name are a
`duplicate` and not loaded twice. The inbox itself is never modified.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from kernel.workspace import Workspace

DELIVERY_SUFFIXES = {".zip", ".xlsx", ".xlsm", ".csv"}
HASH_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    path: Path
    source_name: str
    sha256: str
    received_at: datetime

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.sha256, self.source_name)


def delivery_id(sha256: str, source_name: str) -> str:
    return hashlib.sha256(f"{sha256}:{source_name}".encode()).hexdigest()[:16]


def sha256_of(path: Path) -> str:
    """Hash of a file's bytes; for a folder, of its files' relative paths and hashes."""
    if path.is_file():
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                h.update(chunk)
        return h.hexdigest()
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + sha256_of(f).encode() + b"\n")
    return h.hexdigest()


def _is_delivery(p: Path) -> bool:
    if p.name.startswith((".", "~$")) or p.name.endswith((".part", ".tmp")):
        return False
    return p.is_dir() or p.suffix.lower() in DELIVERY_SUFFIXES


def received_at(path: Path) -> datetime:
    """When the delivery lay in the inbox: its modification time (newest file of a folder)."""
    times = [path.stat().st_mtime]
    if path.is_dir():
        times += [f.stat().st_mtime for f in path.rglob("*") if f.is_file()]
    return datetime.fromtimestamp(max(times), tz=UTC).replace(tzinfo=None)


def scan_inbox(inbox: Path) -> list[Candidate]:
    if not inbox.is_dir():
        raise FileNotFoundError(f"Posteingang nicht gefunden: {inbox}")
    return [
        Candidate(p, p.name, sha256_of(p), received_at(p))
        for p in sorted(inbox.iterdir())
        if _is_delivery(p)
    ]


def _freeze(path: Path) -> None:
    """Make a landed copy read-only: the landing zone is immutable."""
    targets = [path] if path.is_file() else [*path.rglob("*"), path]
    for t in targets:
        mode = t.stat().st_mode
        t.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def copy_delivery(src: Path, target_dir: Path) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    dst = target_dir / src.name
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)
    return dst


@dataclass
class LandingResult:
    new: list[str]
    duplicates: list[str]
    known: int


def land(con: duckdb.DuckDBPyConnection, ws: Workspace, inbox: Path) -> LandingResult:
    """Copy new deliveries into WORKSPACE/landing/<delivery_id>/ and register them."""
    result = LandingResult([], [], 0)
    now = datetime.now(UTC).replace(tzinfo=None)
    for cand in scan_inbox(inbox):
        did = cand.delivery_id
        if con.execute("SELECT 1 FROM audit.landing WHERE delivery_id = ?", [did]).fetchone():
            result.known += 1
            continue
        first = con.execute(
            "SELECT delivery_id, source_name FROM audit.landing WHERE sha256 = ? AND"
            " duplicate_of IS NULL ORDER BY landed_at LIMIT 1",
            [cand.sha256],
        ).fetchone()
        if first:
            # recorded in audit.deliveries once its original is processed (record_duplicates)
            con.execute(
                "INSERT INTO audit.landing VALUES (?, ?, ?, ?, ?, NULL, ?, true)",
                [did, cand.source_name, cand.sha256, cand.received_at, now, first[0]],
            )
            result.duplicates.append(did)
            continue
        landed = copy_delivery(cand.path, ws.landing_dir / did)
        (ws.landing_dir / did / "SHA256").write_text(f"{cand.sha256}  {cand.source_name}\n")
        _freeze(ws.landing_dir / did)
        con.execute(
            "INSERT INTO audit.landing VALUES (?, ?, ?, ?, ?, ?, NULL, false)",
            [
                did,
                cand.source_name,
                cand.sha256,
                cand.received_at,
                now,
                str(landed.relative_to(ws.root)),
            ],
        )
        result.new.append(did)
    return result


def move_to_quarantine(ws: Workspace, did: str, causes: list[str]) -> Path:
    """Move a landed delivery, untouched, into WORKSPACE/quarantine/<delivery_id>/."""
    src = ws.landing_dir / did
    dst = ws.quarantine_dir / did
    if src.exists():
        for p in [src, *src.rglob("*")]:
            if p.is_dir():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)
        if dst.exists():
            shutil.rmtree(dst)
        shutil.move(str(src), str(dst))
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "GRUND.txt").write_text(
        "Diese Lieferung wurde vollständig in Quarantäne genommen; keine Zeile wurde geladen.\n"
        + "".join(f"- {c}\n" for c in causes),
        encoding="utf-8",
    )
    os.chmod(dst, 0o700)  # may hold identifiers: owner only
    return dst
