"""Private files: the workspace holds pseudonymised personal data, so it is owner-only.

Every `lagebild` command that writes (run, demo, report, users, themes, dashboard) starts with
umask 077 (`private_umask`), so whatever it creates is readable by its owner alone. Copies that
keep their source's mode (the landing zone copies deliveries with their permissions) are made
private afterwards (`tighten`). `lagebild run` and `demo` first look for looser modes in the
workspace and say so in one German line (`loose_paths`, `warning`), then make them private.
The inbox is left alone: it is input, and may be a shared drop folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
WRITING_COMMANDS = (
    "run",
    "demo",
    "report",
    "users",
    "themes",
    "dashboard",
    "audit-log",
    "deliveries",
)


def private_umask() -> int:
    """Set umask 077 for this process (and its children); returns the previous one."""
    return os.umask(PRIVATE_UMASK)


def _walk(root: Path, skip: tuple[Path, ...]):
    root = Path(root)
    if not root.exists():
        return
    yield root
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if (here / d).resolve() not in skip]
        for name in dirnames + filenames:
            path = here / name
            if path.resolve() not in skip:
                yield path


def loose_paths(root: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Files and folders under `root` (and root) that group or others may access."""
    skip = tuple(Path(p).resolve() for p in skip)
    out = []
    for path in _walk(root, skip):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            out.append(path)
    return out


def tighten(root: Path, skip: tuple[Path, ...] = ()) -> int:
    """Remove every group and other permission under `root`; returns how many changed."""
    changed = 0
    for path in loose_paths(root, skip):
        mode = stat.S_IMODE(path.lstat().st_mode)
        try:
            path.chmod(mode & ~0o077)
            changed += 1
        except (FileNotFoundError, PermissionError):
            continue
    return changed


def warning(root: Path, found: list[Path]) -> str | None:
    """One German line about looser modes, or None."""
    if not found:
        return None
    example = next((p for p in found if p.is_file()), found[0])  # a file says more
    mode = stat.S_IMODE(example.lstat().st_mode)
    return (
        f"Warnung: {len(found)} Dateien oder Ordner im Arbeitsbereich {root} sind für andere"
        f" Nutzer zugänglich (z. B. {example}, Modus {mode:o}); Lagebild setzt sie auf nur"
        " Eigentümer."
    )


def secure_workspace(root: Path, skip: tuple[Path, ...] = ()) -> str | None:
    """Find looser modes, make them private; the warning line (or None)."""
    root = Path(root).resolve()
    found = loose_paths(root, skip)
    message = warning(root, found)
    tighten(root, skip)
    return message
