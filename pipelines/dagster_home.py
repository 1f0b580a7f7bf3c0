"""A new workspace's Dagster storage, copied from an empty one made at installation (issue 15).

Dagster gives a new home three SQLite databases (runs, the event log's index, schedules) and
creates each table by table, stamping it with its Alembic revision: 0.8 s alone, and about
2 s in a run's first seconds, when the suites' worker and the background loads compete for
the cores (`lagebild demo` and every run in a new workspace pay it). `make install` makes such
a home once per Dagster version (`python -m pipelines.dagster_home`) and keeps its databases
in the environment's share folder; a run in a new workspace gets copies of them, which Dagster
then opens as its own (same version, same schema, no rows but the Alembic stamps and
Dagster's index markers).

The template carries the SHA-256 of each database (`manifest.json`); a copy is made only of
bytes that match it, so a damaged or altered template (a truncated file, another schema,
planted rows) is never copied. A home that already has any of the databases is left alone, a
database another process creates meanwhile is never replaced (`os.link`), and when the
instance cannot be opened over the copies all the same, those copies that are still the
ones linked are removed and Dagster creates its own (`open_instance`). Without a usable
template everything is as before.

A run's own event-log database (`history/runs/<run id>.db`) is copied the same way
(`seed_run`, from `pipelines.event_log`): Dagster makes it at the run's first event and loads
its 89 Alembic revisions twice to check and stamp it, 0.1 s of Python work that, at a run's
start, competes with everything else starting.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sys
import tempfile
from functools import cache
from importlib.metadata import version
from pathlib import Path

from kernel.workspace import DAGSTER_YAML

DATABASES = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")
# the event-log database Dagster makes for every run (`history/runs/<run id>.db`): the same
# tables and Alembic stamp for each, so a run's is copied as well (pipelines.event_log)
RUN_DATABASE = "run.db"
TEMPLATE_RUN_ID = "lagebild-vorlage"
SQLITE_HEADER = b"SQLite format 3\x00"
MANIFEST = "manifest.json"


@cache
def template_dir() -> Path:
    """Where the empty home's databases live: the environment's share folder, per version."""
    return Path(sys.prefix) / "share" / "lagebild" / f"dagster-home-{version('dagster')}"


def write_template(target: Path | None = None) -> Path:
    """Let Dagster make a new home in a temporary folder and keep its databases at `target`
    (replacing an older template there)."""
    import dagster as dg

    target = target or template_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".dagster-home-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
        instance = dg.DagsterInstance.from_config(str(home))
        with instance.event_log_storage.run_connection(TEMPLATE_RUN_ID):
            pass  # Dagster makes the run's database
        instance.dispose()
        made = {name: name for name in DATABASES}
        made[RUN_DATABASE] = f"history/runs/{TEMPLATE_RUN_ID}.db"
        kept = Path(tmp) / "kept"
        digests = {}
        for name, source in made.items():
            if not _is_database(home / source) or (home / f"{source}-wal").exists():
                raise RuntimeError(f"Dagster hat {source} nicht wie erwartet angelegt")
            (kept / name).parent.mkdir(parents=True, exist_ok=True)
            data = (home / source).read_bytes()
            (kept / name).write_bytes(data)
            digests[name] = hashlib.sha256(data).hexdigest()
        manifest = {"dagster": version("dagster"), "sha256": digests}
        (kept / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for path in [kept, *kept.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable like the packages
        shutil.rmtree(target, ignore_errors=True)
        kept.rename(target)
    return target


def _is_database(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _verified(template: Path, names=DATABASES) -> dict[str, bytes] | None:
    """The template's databases `names`, each as the bytes its manifest names; None if any
    differs or is missing (then there is nothing to copy)."""
    try:
        manifest = json.loads((template / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("dagster") != version("dagster"):
            return None
        found = {name: (template / name).read_bytes() for name in names}
        digests = manifest["sha256"]
        if all(hashlib.sha256(found[n]).hexdigest() == digests.get(n) for n in names):
            return found
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    return None


def _link_copy(data: bytes, target: Path) -> int | None:
    """Write `data` to a working file beside `target` and link it there: the copy's inode, or
    None when `target` exists already. Leftover working files are a crashed copy's."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before its name: SQLite's WAL may replay onto it
        os.link(tmp, target)  # complete or absent, and never over another's database
        return os.stat(tmp).st_ino
    except FileExistsError:
        return None
    finally:
        Path(tmp).unlink(missing_ok=True)


def seed(home: Path, template: Path | None = None) -> list[tuple[Path, int]]:
    """Copy the template's databases into `home` when it has none of them yet; the files
    copied with their inode ([] without a verified template, or when the home has storage
    already). Called under the workspace lock: a leftover working file is a crashed seed's."""
    targets = [home / name for name in DATABASES]
    if any(t.exists() for t in targets):
        return []
    databases = _verified(template or template_dir())
    if databases is None:
        return []
    copied = []
    for name, target in zip(DATABASES, targets, strict=True):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            inode = _link_copy(databases[name], target)
        except OSError:
            break  # a full disk or the like: Dagster makes the rest (and says what fails)
        if inode is not None:
            copied.append((target, inode))
    return copied


def seed_run(path: Path, template: Path | None = None) -> bool:
    """Put a copy of the template's run database at `path` (a new run's event-log file);
    False without a verified template or when the file exists (then Dagster makes it)."""
    if path.exists():
        return False
    databases = _verified(template or template_dir(), (RUN_DATABASE,))
    if databases is None:
        return False
    try:
        return _link_copy(databases[RUN_DATABASE], path) is not None
    except OSError:
        return False


def unseed(copied: list[tuple[Path, int]]) -> None:
    """Remove the copies that are still the files linked, with what SQLite kept beside them
    (a file put there since, by whatever process, stays)."""
    for path, inode in copied:
        try:
            if path.stat().st_ino != inode:
                continue
        except OSError:
            continue
        for extra in ("-wal", "-shm", "-journal", ""):
            Path(f"{path}{extra}").unlink(missing_ok=True)


def open_instance(home: Path):
    """The Dagster instance of `home`; a new home's storage is copied from the template, or
    made by Dagster when the instance cannot be opened over the copies."""
    import dagster as dg

    seeded = seed(home)
    try:
        return dg.DagsterInstance.from_config(str(home))
    except Exception:
        if not seeded:
            raise
    unseed(seeded)
    return dg.DagsterInstance.from_config(str(home))


if __name__ == "__main__":
    print(f"Leere Dagster-Ablage gespeichert: {write_template()}")
