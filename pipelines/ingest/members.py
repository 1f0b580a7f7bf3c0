"""What lies in a delivery: its regular files, found without following anything.

A delivery is a folder, a .zip or a single file. Only regular files count: a symlink, FIFO,
device or socket inside a folder, or a zip entry that is one (its Unix mode in the entry's
external attributes), is never followed or opened — it is named as a fault and the delivery is
quarantined. Zip entries are checked against the limits from the archive's directory before
anything is unpacked, then each is streamed into its own file (so two entries with the same
name are both read) while the unpacked bytes are counted, because the directory may lie.
Names that are not valid UTF-8 are read as Windows-1252 (as Windows tools write them).
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipelines.ingest.limits import LimitExceeded, Limits

STREAM_CHUNK = 1024 * 1024
MAX_ENTRIES = 10_000  # files in one delivery
MAX_DEPTH = 32  # folder nesting
SUPPORTED_COMPRESSION = {
    zipfile.ZIP_STORED,
    zipfile.ZIP_DEFLATED,
    zipfile.ZIP_BZIP2,
    zipfile.ZIP_LZMA,
}
ARCHIVE_SUFFIXES = {
    ".zip",
    ".7z",
    ".rar",
    ".tar",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".zst",
    ".cab",
    ".lz",
    ".lzh",
    ".arj",
    ".z",
    ".jar",
    ".ods",
}
# first bytes of archive formats (an .xlsx is a zip too, and is read as a workbook)
ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x1f\x8b",
    b"7z\xbc\xaf",
    b"Rar!",
    b"BZh",
    b"\xfd7zXZ",
)
SPECIAL_KINDS = {
    stat.S_IFLNK: "ein symbolischer Verweis (Symlink)",
    stat.S_IFIFO: "eine Pipe (FIFO)",
    stat.S_IFSOCK: "ein Socket",
    stat.S_IFCHR: "ein Gerät",
    stat.S_IFBLK: "ein Gerät",
}


@dataclass
class Member:
    rel: str  # path inside the delivery, as named there (decoded)
    path: Path  # a regular file to read: the original or an unpacked copy
    size: int
    index: int  # 1-based position in the delivery
    non_utf8: bool = False

    @property
    def name(self) -> str:
        return PurePosixPath(self.rel).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.rel).suffix.lower()

    @property
    def is_os_metadata(self) -> bool:
        """Files operating systems leave in folders and zips (Finder, Explorer)."""
        parts = PurePosixPath(self.rel).parts
        name = self.name
        return (
            "__MACOSX" in parts
            or name.startswith("._")
            or name.lower() in {".ds_store", "thumbs.db", "desktop.ini"}
        )


@dataclass
class Contents:
    kind: str  # folder, zip, xlsx, csv, other
    members: list[Member] = field(default_factory=list)
    # (reason, index of the entry or None): structural faults found while listing
    faults: list[tuple[str, int | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (index, name) of entries that are not regular files: named in texts, never opened
    specials: list[tuple[int, str]] = field(default_factory=list)
    # (index, name) of folders, also empty ones: their names are checked like file names
    folders: list[tuple[int, str]] = field(default_factory=list)
    # (index or None, text): the zip's comment and its entries' comments, for the gate
    comments: list[tuple[int | None, str]] = field(default_factory=list)


def decode_name(name: str) -> tuple[str, bool]:
    """A file name as text: names that are not UTF-8 (surrogate-escaped by Python) are read as
    Windows-1252. Returns (name, was_not_utf8)."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), True


def kind_of(path: Path) -> str:
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    if not stat.S_ISREG(st.st_mode):
        return "special"
    suffix = path.suffix.lower()
    return {".zip": "zip", ".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv"}.get(suffix, "other")


def list_delivery(path: Path, workdir: Path, limits: Limits) -> Contents:
    """The regular files of a delivery (a zip is unpacked into `workdir`, checked)."""
    kind = kind_of(path)
    if kind == "special":
        mode = stat.S_IFMT(os.lstat(path).st_mode)
        c = Contents("special")
        c.faults.append((f"Lieferung ist {SPECIAL_KINDS.get(mode, 'keine reguläre Datei')}", None))
        return c
    if kind == "folder":
        return _list_folder(path, limits)
    if kind == "zip":
        return _unpack_zip(path, workdir / "zip", limits)
    c = Contents(kind)
    size = os.lstat(path).st_size
    limits.add_bytes(size)
    name, non_utf8 = decode_name(path.name)
    c.members.append(Member(name, path, size, 1, non_utf8))
    return c


def _list_folder(root: Path, limits: Limits) -> Contents:
    c = Contents("folder")
    stack: list[tuple[Path, str, int]] = [(root, "", 0)]
    index = 0
    while stack:
        folder, prefix, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise LimitExceeded(f"Ordner sind tiefer als {MAX_DEPTH} Ebenen verschachtelt")
        try:
            entries = sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name))
        except OSError:
            c.faults.append(("Ordner nicht lesbar", None))
            continue
        for entry in entries:
            index += 1
            if index > MAX_ENTRIES:
                raise LimitExceeded(f"Lieferung enthält mehr als {MAX_ENTRIES:,} Einträge")
            name, non_utf8 = decode_name(entry.name)
            rel = f"{prefix}{name}"
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                c.faults.append(("Eintrag nicht lesbar", index))
                continue
            if stat.S_ISDIR(st.st_mode):
                c.folders.append((index, rel))
                stack.append((Path(entry.path), f"{rel}/", depth + 1))
            elif stat.S_ISREG(st.st_mode):
                limits.add_bytes(st.st_size)
                c.members.append(Member(rel, Path(entry.path), st.st_size, index, non_utf8))
            else:
                what = SPECIAL_KINDS.get(stat.S_IFMT(st.st_mode), "keine reguläre Datei")
                c.faults.append((f"Eintrag ist {what} – wird nicht geöffnet", index))
                c.specials.append((index, rel))
    c.members.sort(key=lambda m: m.index)
    return c


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Entry name as text: UTF-8 also when the archiver did not set the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        try:
            return name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return name
    return name


def _safe_suffix(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 8 else ""


def check_zip_directory(
    zf: zipfile.ZipFile, limits: Limits, what: str = "ZIP-Archiv"
) -> list[tuple[str, int | None]]:
    """Judge a zip by its directory before anything is unpacked: encryption, compression
    method, entry types, sizes and compression ratios (LimitExceeded for a size or ratio)."""
    faults = []
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise LimitExceeded(f"{what} enthält mehr als {MAX_ENTRIES:,} Einträge")
    total = sum(i.file_size for i in infos)
    if limits.used_bytes + total > limits.max_unpacked_bytes:
        limits.add_bytes(total)  # raises with the German message
    for n, info in enumerate(infos, 1):
        if info.flag_bits & 0x1:
            faults.append((f"{what} ist verschlüsselt (Passwortschutz) – nicht lesbar", n))
            continue
        if info.compress_type not in SUPPORTED_COMPRESSION:
            faults.append(
                (
                    f"{what}: Kompressionsverfahren wird nicht unterstützt (bitte als"
                    " gewöhnliches ZIP mit Deflate speichern)",
                    n,
                )
            )
            continue
        mode = info.external_attr >> 16
        if info.create_system == 3 and mode:
            fmt = stat.S_IFMT(mode)
            if fmt not in (0, stat.S_IFREG, stat.S_IFDIR):
                what_kind = SPECIAL_KINDS.get(fmt, "keine reguläre Datei")
                faults.append((f"Eintrag im {what} ist {what_kind} – wird nicht geöffnet", n))
                continue
        limits.check_ratio(info.file_size, info.compress_size, what)
    return faults


def _unpack_zip(path: Path, target: Path, limits: Limits) -> Contents:
    c = Contents("zip")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        c.faults.append(("ZIP-Archiv ist beschädigt oder kein ZIP", None))
        return c
    with zf:
        for n, info in enumerate(zf.infolist(), 1):
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or ":" in info.filename[:3]:
                c.faults.append(("ZIP enthält unzulässige Pfade", n))
        c.faults += check_zip_directory(zf, limits)
        if c.faults:
            return c
        c.comments = zip_comments(zf)
        target.mkdir(parents=True, exist_ok=True)
        for n, info in enumerate(zf.infolist(), 1):
            rel = _entry_name(info).replace("\\", "/").lstrip("/")
            if info.is_dir():
                c.folders.append((n, rel.rstrip("/")))
                if info.file_size:  # a folder entry that carries data: it would go unread
                    c.faults.append(("ZIP-Eintrag ist als Ordner markiert, enthält aber Daten", n))
                continue
            dst = target / f"{n:05d}{_safe_suffix(rel)}"
            try:
                size = _stream_entry(zf, info, dst, limits)
            except LimitExceeded:
                raise
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                OSError,
                NotImplementedError,
                RuntimeError,
                ValueError,
            ):
                c.faults.append(("ZIP-Eintrag ist beschädigt und nicht lesbar", n))
                continue
            c.members.append(Member(rel, dst, size, n))
    return c


def zip_comments(zf: zipfile.ZipFile) -> list[tuple[int | None, str]]:
    """The archive's comment and its entries' comments as text (free text a zip tool lets
    anyone type in: checked for identifiers like the files)."""
    raw = [(None, zf.comment), *((n, i.comment) for n, i in enumerate(zf.infolist(), 1))]
    out = []
    for n, data in raw:
        if data:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp1252", errors="replace")
            out.append((n, text))
    return out


def _stream_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dst: Path, limits: Limits) -> int:
    """Unpack one entry, counting what really comes out (the directory may lie)."""
    written = 0
    with zf.open(info) as src, open(dst, "wb") as out:
        while chunk := src.read(STREAM_CHUNK):
            written += len(chunk)
            limits.add_bytes(len(chunk))
            if written > info.file_size:
                raise LimitExceeded(
                    "ZIP-Archiv: ein Eintrag ist größer als im Verzeichnis angegeben"
                )
            limits.check_ratio(written, info.compress_size, "ZIP-Archiv")
            limits.check_time()
            out.write(chunk)
    return written


def looks_like_archive(member: Member) -> bool:
    if member.suffix in ARCHIVE_SUFFIXES:
        return True
    try:
        with open(member.path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head.startswith(ARCHIVE_MAGIC)
