"""Inbox -> landing zone: an immutable, hashed copy of every new delivery.

A delivery is a folder, a .zip, an .xlsx workbook or a single .csv directly in the inbox. Its
identity is (sha256 of its bytes, name in the inbox): the same bytes under the same name are
already known and skipped (a re-run changes nothing); the same bytes under another name are a
`duplicate` and not loaded twice. The inbox itself is never modified.

A run does not read the whole inbox again to learn that nothing changed (1,000,000 cases:
773 MB, 10,000,000: 7.8 GB). As git does for its index, the hash of an entry is kept under a
key of its name and of what lstat says of each of its files (size, modification and change
time, inode, device: `HASHES`, never published); while the key is the same the kept hash is
taken. Any write to a file changes its change time, which no program can set back; kept
hashes are used only on file systems known to keep it so (`CTIME_FILE_SYSTEMS`: FAT keeps it
equal to the modification time, which `touch` sets, and a network share reports what its
server says). Elsewhere every entry is read as before. An entry changed less than
`SETTLED_SECONDS` before it was hashed is not kept (a file system with a coarse clock could
show a second change in the same tick: git's "racy" entries).

A delivery's receipt (`received_at`) is its file time, held between the workspace's previous
landing and the landing itself (`received`): an old file time (unzip, `cp -p`) keeps a
delivery's order among those landed with it but cannot move the data cut-off.

Nothing in the inbox is followed or opened unless it is a regular file or folder: a symlink
(also a dangling or looping one), FIFO, socket or device is recorded as a quarantined delivery
without being touched, and so is a delivery larger than `max_unpacked_bytes` (it is not
copied). Inside a folder only regular files are copied; anything else is recorded as a fault
of the delivery. Names that are not UTF-8 are read as Windows-1252; a name that carries an
identifier is never stored: the delivery is recorded under a neutral name.

Every move is atomic or resumable. A delivery is copied into `landing/.tmp-<id>-<pid>`,
frozen and renamed into `landing/<id>` before it is registered; a rerun removes what a killed
copy left behind and copies again. A quarantined delivery is recorded first (one transaction)
and then renamed into `quarantine/<id>`; `complete_moves` finishes a move a crash interrupted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from kernel.settings import Settings
from kernel.warehouse import table_columns
from kernel.workspace import Workspace
from pipelines.ingest.members import SPECIAL_KINDS, decode_name

log = logging.getLogger("lagebild.landing")

DELIVERY_SUFFIXES = {".zip", ".xlsx", ".xlsm", ".csv"}
HASH_CHUNK = 8 * 1024 * 1024
HASH_WORKERS = min(4, os.cpu_count() or 1)  # deliveries hashed at once
CRASH_ENV = "LAGEBILD_CRASH_AT"
HASHES = "intermediate.inbox_hashes"  # stat key -> sha256 of the inbox's entries (private)
HASH_VERSION = "1"  # part of every stat key: raise when what `sha256_of` hashes changes
SETTLED_SECONDS = 3.0  # coarse clocks keep times in steps (FAT: 2 s)
# local file systems that set a file's change time on every write (Linux names, mountinfo)
CTIME_FILE_SYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "zfs", "f2fs", "bcachefs", "jfs", "overlay"}
)
TMP_PREFIX = ".tmp-"


def crash_point(name: str) -> None:
    """Test hook: end the process at a named point of a move (LAGEBILD_CRASH_AT=name), as a
    kill -9 would. Used by the crash tests to interrupt every move deterministically."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(86)


@dataclass(frozen=True)
class Candidate:
    path: Path
    source_name: str  # as stored and shown: decoded, or neutral when the name carries an identifier
    sha256: str
    received_at: datetime
    faults: tuple[str, ...] = ()  # structural faults found in the inbox (German)
    copy: bool = True  # False: not copied (not a regular file/folder, or too big)
    raw_name: str = ""  # the name in the inbox (identity)
    stat_key: str = ""  # name and lstat of its files, hashed (no name is kept in clear)
    settled: bool = field(default=False, compare=False)  # unchanged for SETTLED_SECONDS

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.sha256, self.raw_name or self.source_name)


def delivery_id(sha256: str, source_name: str) -> str:
    raw = os.fsencode(source_name) if isinstance(source_name, str) else source_name
    return hashlib.sha256(sha256.encode() + b":" + raw).hexdigest()[:16]


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class _Walk:
    files: list[tuple[Path, str]] = field(default_factory=list)  # (path, relative name)
    dirs: list[str] = field(default_factory=list)
    specials: list[tuple[str, str]] = field(default_factory=list)  # (relative name, kind)
    size: int = 0
    newest: float = 0.0
    stats: list[tuple] = field(default_factory=list)  # (relative name, lstat figures)
    devices: set[int] = field(default_factory=set)
    changed: int = 0  # newest modification or change time of its entries (ns)


def _walk(root: Path) -> _Walk:
    """Regular files and folders under root, never following a symlink (lstat only)."""
    w = _Walk()
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name))
        except OSError:
            w.specials.append((prefix or ".", "ein nicht lesbarer Ordner"))
            continue
        for e in entries:
            rel = prefix + e.name
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                w.specials.append((rel, "ein nicht lesbarer Eintrag"))
                continue
            w.stats.append((rel, *_lstat_figures(st)))
            w.devices.add(st.st_dev)
            w.changed = max(w.changed, st.st_mtime_ns, st.st_ctime_ns)
            if stat.S_ISDIR(st.st_mode):
                w.dirs.append(rel)
                stack.append((Path(e.path), rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                w.files.append((Path(e.path), rel))
                w.size += st.st_size
                w.newest = max(w.newest, st.st_mtime)
            else:
                w.specials.append(
                    (rel, SPECIAL_KINDS.get(stat.S_IFMT(st.st_mode), "keine reguläre Datei"))
                )
    return w


def _lstat_figures(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _stat_key(raw: str, st: os.stat_result, w: _Walk | None) -> str:
    """The entry's name and what lstat says of it and (a folder) of everything in it."""
    figures = [_lstat_figures(st), *(sorted(w.stats) if w is not None else ())]
    named = f"{HASH_VERSION}\0".encode() + os.fsencode(raw) + b"\0"
    return hashlib.sha256(named + repr(figures).encode()).hexdigest()


def file_system_types() -> dict[int, str]:
    """Device number -> file system type of every mount (Linux: /proc/self/mountinfo; empty
    elsewhere, so nothing is taken from kept hashes)."""
    try:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    types = {}
    for line in text.splitlines():
        mount, _, fs = line.partition(" - ")
        fields = mount.split()
        major, _, minor = fields[2].partition(":") if len(fields) > 2 else ("", "", "")
        if fs and major.isdigit() and minor.isdigit():
            types[os.makedev(int(major), int(minor))] = fs.split()[0]
    return types


def _settled(changed_ns: int, now: float) -> bool:
    return changed_ns / 1e9 < now - SETTLED_SECONDS


def sha256_of(path: Path) -> str:
    """Hash of a file's bytes; for a folder, of its entries' relative names and hashes."""
    if stat.S_ISREG(os.lstat(path).st_mode):
        return _hash_file(path)
    w = _walk(path)
    h = hashlib.sha256()
    for f, rel in sorted(w.files, key=lambda x: os.fsencode(x[1])):
        h.update(os.fsencode(rel) + b"\0" + _hash_file(f).encode() + b"\n")
    for rel, kind in sorted(w.specials, key=lambda x: os.fsencode(x[0])):
        h.update(b"special\0" + os.fsencode(rel) + b"\0" + kind.encode() + b"\n")
    return h.hexdigest()


def _is_candidate(name: str) -> bool:
    return not (name.startswith((".", "~$")) or name.endswith((".part", ".tmp")))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stamp(ts: float) -> datetime:
    """A modification time as the receipt time; a time in the future is not trusted."""
    return min(datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=None), _now())


def receipt_floor(
    con: duckdb.DuckDBPyConnection, now: datetime, first_receipt_days: int
) -> datetime:
    """The earliest plausible receipt of a delivery that is new to this workspace: the last
    landing (whatever lay in the inbox then was landed then, so what is new now came later);
    in a workspace that has never landed anything, `first_receipt_days` before now (then
    nothing bounds a receipt from below; setting `first_receipt_days`)."""
    last = con.execute("SELECT max(landed_at) FROM audit.landing").fetchone()[0]
    return last if last is not None else now - timedelta(days=first_receipt_days)


def received(stamp: datetime, floor: datetime, now: datetime) -> datetime:
    """A delivery's receipt: its file time, held between `floor` and now. A file time says
    when some program last wrote the file; unzip and `cp -p` keep the export's (1980-01-01
    from many zip tools), and such a time must never become the receipt date, which can be the
    data cut-off (as_of) of every provider. Held at the floor, not moved to now: a provider's
    two exports landed together keep their order (an older one taken as received now replaced
    the newer one; review of 2026-12-06). The cut-off is bounded as well
    (`batch.resolve_data_basis`)."""
    return min(max(stamp, floor), now)


def scan_inbox(
    inbox: Path,
    max_bytes: int = 2_000_000_000,
    contract=None,
    kept: Mapping[str, str] | None = None,
) -> list[Candidate]:
    """Every delivery in the inbox, judged by lstat only: nothing is followed or opened
    before it is known to be a regular file or folder within the size limit.

    The deliveries to copy are hashed side by side (`_hashed`): hashlib and the reads work
    without Python's lock. `kept`: hashes of earlier scans by stat key (`kept_hashes`),
    taken instead of reading an entry whose key is the same."""
    import time

    kept = kept or {}
    now = time.time()
    types = file_system_types()

    def to_copy(path, raw, shown, st, received, faults, w: _Walk | None, hasher) -> Candidate:
        """A delivery to copy, with its kept hash when its stat key is known (else it is
        hashed below, with the others)."""
        devices = (st.st_dev, *(w.devices if w is not None else ()))
        ok = all(types.get(d) in CTIME_FILE_SYSTEMS for d in devices)
        key = _stat_key(raw, st, w) if ok else ""
        changed = max(st.st_mtime_ns, st.st_ctime_ns, w.changed if w is not None else 0)
        if key not in kept:
            to_hash.append((len(out), hasher, path))
        sha = kept.get(key, "")
        settled = ok and _settled(changed, now)
        return Candidate(path, shown, sha, received, tuple(faults), True, raw, key, settled)

    from data_contracts import load_contract
    from pipelines.ingest.reader import shown_name

    contract = contract or load_contract()
    if not inbox.is_dir():
        raise FileNotFoundError(f"Posteingang nicht gefunden: {inbox}")
    out = []
    to_hash: list[tuple[int, Callable, Path]] = []  # (position in out, hash, delivery)
    for entry in sorted(os.scandir(inbox), key=lambda e: os.fsencode(e.name)):
        raw = entry.name
        if not _is_candidate(raw):
            continue
        path = Path(entry.path)
        name, _ = decode_name(raw)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        faults: list[str] = []
        shown, label = shown_name(contract, name, "Lieferung")
        if label:
            faults.append(f"{label} im Namen der Lieferung; der Name wird nicht wiedergegeben")
        if stat.S_ISDIR(st.st_mode):
            w = _walk(path)
            received = _stamp(max([st.st_mtime, w.newest]))
            if w.size > max_bytes:
                out.append(_too_big(path, raw, shown, w.size, st, received, faults, max_bytes))
                continue
            faults += [
                f"Eintrag {i} der Lieferung ist {kind} – wird nicht gefolgt oder geöffnet"
                for i, (_, kind) in enumerate(w.specials, 1)
            ]
            out.append(to_copy(path, raw, shown, st, received, faults, w, sha256_of))
        elif stat.S_ISREG(st.st_mode):
            if path.suffix.lower() not in DELIVERY_SUFFIXES:
                continue
            received = _stamp(st.st_mtime)
            if st.st_size > max_bytes:
                out.append(_too_big(path, raw, shown, st.st_size, st, received, faults, max_bytes))
                continue
            out.append(to_copy(path, raw, shown, st, received, faults, None, _hash_file))
        else:
            kind = SPECIAL_KINDS.get(stat.S_IFMT(st.st_mode), "keine reguläre Datei")
            faults.append(f"Eintrag im Posteingang ist {kind} – wird nicht gefolgt oder geöffnet")
            sha = hashlib.sha256(f"special:{kind}:{st.st_mtime_ns}".encode()).hexdigest()
            out.append(Candidate(path, shown, sha, _stamp(st.st_mtime), tuple(faults), False, raw))
    return _hashed(out, to_hash)


def kept_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The hashes the last scan kept, by stat key (none when there are none)."""
    if not table_columns(con, HASHES):
        return {}
    try:
        rows = con.execute(f"SELECT stat_key, sha256 FROM {HASHES}").fetchall()
    except duckdb.Error as exc:  # another layout (another version): read every entry again
        log.warning(f"Gemerkte Prüfsummen des Posteingangs nicht lesbar, alles wird gelesen: {exc}")
        return {}
    return {k: v for k, v in rows if isinstance(k, str) and isinstance(v, str) and len(v) == 64}


def keep_hashes(con: duckdb.DuckDBPyConnection, candidates: list[Candidate]) -> None:
    """Keep the hashes of this scan's settled entries for the next one (only the inbox as it
    is now: an entry gone from it is forgotten)."""
    rows = [(c.stat_key, c.sha256) for c in candidates if c.stat_key and c.settled and c.sha256]
    con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
    con.execute(f"CREATE OR REPLACE TABLE {HASHES} (stat_key VARCHAR PRIMARY KEY, sha256 VARCHAR)")
    if rows:  # one statement: an inbox of years holds thousands of entries
        keys, shas = zip(*rows, strict=True)
        con.execute(
            f"INSERT INTO {HASHES} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
            [list(keys), list(shas)],
        )


def _hashed(out: list[Candidate], to_hash: list[tuple[int, Callable, Path]]) -> list[Candidate]:
    """`out` with the hashes of `to_hash` filled in, computed by a few threads (1,000,000
    cases: 100 deliveries, 773 MB, 0.92 → 0.32 s); the first error is raised as before."""
    with ThreadPoolExecutor(HASH_WORKERS, thread_name_prefix="lagebild-hash") as pool:
        digests = pool.map(lambda job: job[1](job[2]), to_hash)
        for (i, _, _), digest in zip(to_hash, digests, strict=True):
            out[i] = replace(out[i], sha256=digest)
    return out


def _too_big(path, raw, shown, size, st, received, faults, max_bytes) -> Candidate:
    from pipelines.ingest.limits import _size

    faults = [
        *faults,
        f"Grenze überschritten: Lieferung ist größer als {_size(max_bytes)}; sie wurde nicht"
        " kopiert und liegt weiter im Posteingang",
    ]
    sha = hashlib.sha256(f"zu-gross:{size}:{st.st_mtime_ns}".encode()).hexdigest()
    return Candidate(path, shown, sha, received, tuple(faults), False, raw)


def _landed_name(cand: Candidate) -> str:
    """The copy's name in landing/: the delivery's name, or a neutral one when its name
    carries an identifier."""
    if cand.source_name.endswith("(Name enthält einen Identifikator)"):
        suffix = Path(decode_name(cand.raw_name)[0]).suffix.lower()
        return "lieferung" + (suffix if suffix in DELIVERY_SUFFIXES else "")
    return decode_name(cand.raw_name)[0].replace("/", "_")


def _make_writable(path: Path) -> None:
    """Give the owner write access to a landed (frozen) tree, so it can be moved or removed."""
    if not path.exists() and not path.is_symlink():
        return
    todo = [path]
    while todo:
        p = todo.pop()
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode):
            os.chmod(p, st.st_mode | stat.S_IRWXU)
            todo += [Path(e.path) for e in os.scandir(p)]


def _remove(path: Path) -> None:
    if path.exists() or path.is_symlink():
        _make_writable(path)
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _freeze(path: Path) -> None:
    """Make a landed copy read-only: the landing zone is immutable."""
    targets = [path]
    if path.is_dir():
        targets = [*(p for p in path.rglob("*")), path]
    for t in targets:
        mode = os.lstat(t).st_mode
        os.chmod(t, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def copy_delivery(cand: Candidate, target_dir: Path) -> Path:
    """Copy a delivery's regular files (and folders) into target_dir, never following links."""
    target_dir.mkdir(parents=True, exist_ok=True)
    dst = target_dir / _landed_name(cand)
    if stat.S_ISDIR(os.lstat(cand.path).st_mode):
        w = _walk(cand.path)
        dst.mkdir()
        for rel in w.dirs:
            (dst / _fs_rel(rel)).mkdir(parents=True, exist_ok=True)
        for src, rel in w.files:
            target = dst / _fs_rel(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_regular(src, target)
    else:
        _copy_regular(cand.path, dst)
    return dst


def _fs_rel(rel: str) -> str:
    """A relative name inside a delivery as it is written in landing/ (decoded to UTF-8)."""
    return "/".join(decode_name(part)[0] for part in rel.split("/"))


def _copy_regular(src: Path, dst: Path) -> None:
    """Copy one regular file; opened with O_NOFOLLOW (and O_NONBLOCK, so a FIFO swapped in
    since the listing cannot block), checked to be a regular file, copied in the kernel."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError("keine reguläre Datei")
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            offset = 0
            while offset < st.st_size:
                try:
                    sent = os.sendfile(out, fd, offset, min(st.st_size - offset, 1 << 30))
                except OSError:  # no sendfile for this file system: plain reads
                    os.lseek(fd, offset, os.SEEK_SET)
                    chunk = os.read(fd, HASH_CHUNK)
                    sent = os.write(out, chunk) if chunk else 0
                if sent == 0:
                    break
                offset += sent
        finally:
            os.close(out)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(fd)


@dataclass
class LandingResult:
    new: list[str]
    duplicates: list[str]
    known: int


def clean_leftovers(ws: Workspace) -> None:
    """Remove what a killed run left behind: temp copies of landing and quarantine moves,
    unpacked deliveries (`.work/`, may hold identifiers) and temp files of publish."""
    _remove(ws.root / ".work")
    for folder in (ws.landing_dir, ws.quarantine_dir):
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.startswith(TMP_PREFIX):
                    _remove(p)
    if ws.published_dir.is_dir():
        for p in ws.published_dir.glob(".lagebild.*.duckdb.tmp*"):
            p.unlink(missing_ok=True)


def land(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    inbox: Path,
    max_bytes: int = 2_000_000_000,
    first_receipt_days: int = Settings.first_receipt_days,
) -> LandingResult:
    """Copy new deliveries into WORKSPACE/landing/<delivery_id>/ and register them."""
    result = LandingResult([], [], 0)
    clean_leftovers(ws)
    candidates = scan_inbox(inbox, max_bytes, kept=kept_hashes(con))
    keep_hashes(con, candidates)
    floor = receipt_floor(con, _now(), first_receipt_days)
    for cand in candidates:
        did = cand.delivery_id
        if con.execute("SELECT 1 FROM audit.landing WHERE delivery_id = ?", [did]).fetchone():
            result.known += 1
            continue
        now = _now()
        cand = replace(cand, received_at=received(cand.received_at, floor, now))
        first = con.execute(
            "SELECT delivery_id FROM audit.landing WHERE sha256 = ? AND duplicate_of IS NULL"
            " AND landed_path IS NOT NULL ORDER BY landed_at LIMIT 1",
            [cand.sha256],
        ).fetchone()
        if first and cand.copy:
            # recorded in audit.deliveries once its original is processed (record_duplicates)
            _register(con, cand, now, None, first[0])
            result.duplicates.append(did)
            continue
        landed_path = None
        if cand.copy:
            final = ws.landing_dir / did
            tmp = ws.landing_dir / f"{TMP_PREFIX}{did}-{os.getpid()}"
            _remove(tmp)
            try:
                landed = copy_delivery(cand, tmp)
            except OSError:
                # vanished or changed while being copied: taken up again by the next run
                _remove(tmp)
                continue
            (tmp / "SHA256").write_text(f"{cand.sha256}  {cand.source_name}\n", encoding="utf-8")
            _freeze(tmp)
            crash_point("landing.copied")
            _remove(final)  # a copy a killed run renamed but never registered
            os.rename(tmp, final)
            crash_point("landing.renamed")
            landed_path = str((final / landed.name).relative_to(ws.root))
        _register(con, cand, now, landed_path, None)
        crash_point("landing.registered")
        result.new.append(did)
    return result


def _register(con, cand: Candidate, now: datetime, landed_path, duplicate_of) -> None:
    con.execute(
        "INSERT INTO audit.landing (delivery_id, source_name, sha256, received_at, landed_at,"
        " landed_path, duplicate_of, processed, attempts, landing_faults)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        [
            cand.delivery_id,
            cand.source_name,
            cand.sha256,
            cand.received_at,
            now,
            landed_path,
            duplicate_of,
            duplicate_of is not None,
            list(cand.faults) or None,
        ],
    )


GRUND = "GRUND.txt"


def move_to_quarantine(ws: Workspace, did: str, causes: list[str]) -> Path:
    """Move a landed delivery, untouched, into WORKSPACE/quarantine/<delivery_id>/ (a rename
    within the workspace: atomic), then write GRUND.txt. Safe to repeat after a crash."""
    src = ws.landing_dir / did
    dst = ws.quarantine_dir / did
    ws.quarantine_dir.mkdir(parents=True, exist_ok=True)
    if src.exists():
        _make_writable(src)
        if not dst.exists():
            crash_point("quarantine.before_rename")
            try:
                os.rename(src, dst)
            except OSError:  # another file system: copy under a temp name, then rename
                tmp = ws.quarantine_dir / f"{TMP_PREFIX}{did}"
                _remove(tmp)
                shutil.copytree(src, tmp, symlinks=True)
                os.rename(tmp, dst)
                _remove(src)
        else:  # a move a crash interrupted: bring the rest over
            for child in list(src.iterdir()):
                target = dst / child.name
                if not target.exists():
                    os.rename(child, target)
            _remove(src)
        crash_point("quarantine.moved")
    dst.mkdir(parents=True, exist_ok=True)
    os.chmod(dst, 0o700)  # may hold identifiers: owner only
    text = (
        "Diese Lieferung wurde vollständig in Quarantäne genommen; keine Zeile wurde geladen.\n"
        + "".join(f"- {c}\n" for c in causes)
    )
    tmp = dst / f"{TMP_PREFIX}{GRUND}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dst / GRUND)
    return dst


def complete_moves(con: duckdb.DuckDBPyConnection, ws: Workspace) -> int:
    """Finish quarantine moves a crash interrupted: a delivery recorded as quarantined whose
    copy is still in landing/ or whose GRUND.txt is missing. Returns how many."""
    rows = con.execute(
        "SELECT d.delivery_id, list(r.reason ORDER BY r.reason) FILTER (WHERE r.reason IS NOT"
        " NULL) FROM audit.deliveries d LEFT JOIN audit.rejections r ON r.delivery_id ="
        " d.delivery_id AND r.kind = 'quarantine' WHERE d.status = 'quarantined' GROUP BY 1"
    ).fetchall()
    done = 0
    for did, reasons in rows:
        if (ws.landing_dir / did).exists() or not (ws.quarantine_dir / did / GRUND).exists():
            move_to_quarantine(ws, did, reasons or ["Grund siehe audit.deliveries"])
            done += 1
    return done
