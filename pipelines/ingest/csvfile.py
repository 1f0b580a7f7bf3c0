"""Reading one delivered CSV file into DuckDB, exactly and without losing a row.

DuckDB's reader does the heavy lifting (multi-threaded C++), but on its own it is not enough
for "nothing lost": it skips blank lines (so its row position is not the file's line), it can
swallow the rest of a file after an unterminated quote, and its reject line numbers are not
physical lines. So we compute the file's record structure ourselves with vectorised numpy over
the raw bytes (newline and quote positions, quote parity), attach the exact line of every record
with a POSITIONAL JOIN, and reconcile DuckDB's row count against it. UTF-8 multi-byte sequences
never contain the bytes for '\\n' or '"', so this byte-level analysis is encoding-safe.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

CHUNK = 64 * 1024 * 1024
NL, QUOTE, CR = 10, 34, 13


class UnreadableFile(Exception):
    """A structural fault: the file cannot be read as a CSV of the exchange format."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass
class CsvLayout:
    path: Path  # UTF-8 file DuckDB reads (the original, or a transcoded copy)
    encoding: str  # what the delivery used: 'utf-8', 'utf-8-sig' or 'cp1252'
    separator: str
    header: list[str]
    record_lines: np.ndarray  # physical line (1-based) where each record starts; [0] = header
    record_offsets: np.ndarray  # byte offset where each record starts
    newline: str = "\n"
    notes: list[str] = field(default_factory=list)


def detect_encoding(path: Path) -> str:
    """'utf-8-sig', 'utf-8' or 'cp1252' (the only encodings the contract accepts)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        first = fh.read(3)
        bom = first == codecs.BOM_UTF8
        try:
            decoder.decode(first[3:] if bom else first)
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig" if bom else "utf-8"
        except UnicodeDecodeError:
            pass
    decoder = codecs.getincrementaldecoder("cp1252")()
    with open(path, "rb") as fh:
        try:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                "Zeichenkodierung nicht erkannt (erlaubt sind UTF-8 und Windows-1252)"
            ) from exc
    return "cp1252"


def transcode_to_utf8(src: Path, dst: Path, encoding: str) -> Path:
    """Stream-convert a Windows-1252 file to UTF-8 (DuckDB reads UTF-8 only without extensions)."""
    with (
        open(src, encoding=encoding, newline="") as fin,
        open(dst, "w", encoding="utf-8", newline="") as fout,
    ):
        while chunk := fin.read(CHUNK):
            fout.write(chunk)
    return dst


def record_structure(path: Path) -> tuple[np.ndarray, np.ndarray, bool]:
    """Start line and byte offset of every CSV record, and whether a quote is left open.

    A physical line starts a record when the number of quote characters before it is even and
    the line is not empty (DuckDB skips empty lines). Doubled quotes inside quoted fields add two
    and keep the parity. Works chunk by chunk so memory stays bounded for large files.
    """
    starts_all: list[np.ndarray] = []
    nl_all: list[np.ndarray] = []
    quotes_before_chunk = 0
    parity_at_start: list[np.ndarray] = []
    offset = 0
    size = path.stat().st_size
    with open(path, "rb") as fh:
        while True:
            buf = fh.read(CHUNK)
            if not buf:
                break
            arr = np.frombuffer(buf, dtype=np.uint8)
            nl = np.flatnonzero(arr == NL)
            q = np.flatnonzero(arr == QUOTE)
            # line starts in this chunk: chunk start (if offset 0) and after every newline
            line_starts = nl + 1
            if offset == 0:
                line_starts = np.concatenate(([0], line_starts))
            # quotes before each line start (within chunk) + quotes of previous chunks
            qb = np.searchsorted(q, line_starts, side="left") + quotes_before_chunk
            starts_all.append(line_starts + offset)
            parity_at_start.append(qb % 2)
            nl_all.append(nl + offset)
            quotes_before_chunk += len(q)
            offset += len(buf)
    if not starts_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), False
    starts = np.concatenate(starts_all)
    parity = np.concatenate(parity_at_start)
    newlines = np.concatenate(nl_all)
    keep = starts < size  # a start after the final newline is past the end
    starts, parity = starts[keep], parity[keep]
    # line end = next newline at/after start (or EOF); empty line when end - start is 0 or "\r"
    ends = np.searchsorted(newlines, starts, side="left")
    end_pos = np.where(ends < len(newlines), newlines[np.minimum(ends, len(newlines) - 1)], size)
    length = end_pos - starts
    empty = length == 0
    if length.size:
        cr_only = (length == 1) & _byte_at(path, starts, length == 1, CR)
        empty |= cr_only
    is_record = (parity == 0) & ~empty
    lines = np.arange(1, len(starts) + 1, dtype=np.int64)
    unterminated = quotes_before_chunk % 2 == 1
    return lines[is_record], starts[is_record], unterminated


def _byte_at(path: Path, offsets: np.ndarray, mask: np.ndarray, value: int) -> np.ndarray:
    """For offsets where mask is set, whether the byte there equals value (memory-mapped)."""
    out = np.zeros(len(offsets), dtype=bool)
    if mask.any():
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        out[mask] = mm[offsets[mask]] == value
        del mm
    return out


def read_header(path: Path, offsets: np.ndarray, encoding: str) -> tuple[list[str], str, str]:
    """The header record's fields, the separator (';' or ','), and the newline style."""
    end = offsets[1] if len(offsets) > 1 else min(path.stat().st_size, offsets[0] + 1_000_000)
    with open(path, "rb") as fh:
        fh.seek(int(offsets[0]))
        raw = fh.read(int(end - offsets[0]))
    text = raw.decode("utf-8-sig" if encoding.startswith("utf-8") else "utf-8", errors="replace")
    newline = "\r\n" if "\r\n" in text or text.endswith("\r") else "\n"
    first = text.rstrip("\r\n")
    sep = ";" if first.count(";") > first.count(",") else ","
    fields = next(csv.reader(io.StringIO(first), delimiter=sep, quotechar='"'), [])
    return [f.strip() for f in fields], sep, newline


def inspect_csv(path: Path, workdir: Path) -> CsvLayout:
    """Encoding, separator, header and record structure of a delivered CSV."""
    if path.stat().st_size == 0:
        raise UnreadableFile("Datei ist leer")
    encoding = detect_encoding(path)
    readable = path
    if encoding == "cp1252":
        readable = transcode_to_utf8(path, workdir / (path.name + ".utf8"), "cp1252")
    lines, offsets, unterminated = record_structure(readable)
    if len(lines) == 0:
        raise UnreadableFile("Datei enthält keine Kopfzeile")
    if unterminated:
        raise UnreadableFile(
            "Anführungszeichen wird nicht geschlossen – die Datei ist ab hier nicht eindeutig"
            " lesbar",
            line=int(lines[-1]),
        )
    header, sep, newline = read_header(readable, offsets, encoding)
    return CsvLayout(readable, encoding, sep, header, lines, offsets, newline)


def load_csv(
    con: duckdb.DuckDBPyConnection, layout: CsvLayout, target: str
) -> tuple[int, list[tuple[int, str]]]:
    """Load all data records into temp table `target` (c0..cN VARCHAR + __line).

    Returns (rows loaded into target, malformed records as (line, German reason)). Every record
    of the file is either a row of `target` or a malformed record; anything else is a
    structural fault (UnreadableFile).
    """
    ncols = max(len(layout.header), 1)
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    scan, rejects, scans = (f"{target}_{s}" for s in ("raw", "rej", "scn"))
    # Temp tables only: delivered values never reach the warehouse file before the gate.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {scan} AS
        SELECT * FROM read_csv(?, auto_detect=false, header=true, delim=?, quote='"',
            escape='"', new_line=?, columns={columns}, null_padding=true, parallel=false,
            ignore_errors=true, store_rejects=true, rejects_table='{rejects}',
            rejects_scan='{scans}', max_line_size=4000000, encoding='utf-8')""",
        [str(layout.path), layout.separator, layout.newline.encode("unicode_escape").decode()],
    )
    scanned = con.execute(f"SELECT count(*) FROM {scan}").fetchone()[0]
    rej = con.execute(
        f"SELECT DISTINCT byte_position, error_type FROM {rejects} ORDER BY 1"
    ).fetchall()
    data_offsets = layout.record_offsets[1:]
    data_lines = layout.record_lines[1:]
    rej_idx = np.searchsorted(data_offsets, np.array([r[0] for r in rej], np.int64), "right") - 1
    bad = np.zeros(len(data_offsets), dtype=bool)
    bad[rej_idx[rej_idx >= 0]] = True
    kept_lines = data_lines[~bad]
    record_lines = _lines_frame(kept_lines)  # noqa: F841 - read by DuckDB (replacement scan)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {target} AS "
            f"SELECT s.*, l.__line FROM {scan} s POSITIONAL JOIN record_lines l"
        )
    finally:
        con.execute(
            f"DROP TABLE IF EXISTS {scan}; DROP TABLE IF EXISTS {rejects};"
            f" DROP TABLE IF EXISTS {scans}"
        )
    loaded = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    if not (scanned == loaded == len(kept_lines)):
        raise UnreadableFile(
            "Zeilenstruktur nicht eindeutig lesbar (die Anzahl der gelesenen Datensätze stimmt"
            " nicht mit den Zeilen der Datei überein)"
        )
    malformed = [
        (int(data_lines[i]), _reject_reason(r[1]))
        for i, r in zip(rej_idx, rej, strict=True)
        if i >= 0
    ]
    return loaded, malformed


def _lines_frame(lines: np.ndarray):
    import pyarrow as pa

    return pa.table({"__line": pa.array(lines.astype(np.int64))})


def _reject_reason(error_type: str) -> str:
    return {
        "TOO MANY COLUMNS": "Zeile hat mehr Felder als die Kopfzeile",
        "MISSING COLUMNS": "Zeile hat weniger Felder als die Kopfzeile",
        "UNQUOTED VALUE": "Feld mit Trennzeichen oder Anführungszeichen ist nicht korrekt gequotet",
        "LINE SIZE OVER MAXIMUM": "Zeile ist zu lang",
        "INVALID UNICODE": "ungültige Zeichen in der Zeile",
    }.get(str(error_type), "Zeile ist nicht lesbar")
