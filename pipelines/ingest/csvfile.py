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
import contextlib
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from pipelines.ingest.faults import LimitExceeded, UnreadableFile
from pipelines.ingest.limits import Limits

__all__ = ["LimitExceeded", "UnreadableFile"]  # the readers' faults, re-exported

CHUNK = 64 * 1024 * 1024
NL, QUOTE, CR = 10, 34, 13


def de_int(n: int) -> str:
    """12345 -> '12.345' (German thousands separator)."""
    return f"{int(n):,}".replace(",", ".")


@dataclass
class CsvLayout:
    path: Path  # UTF-8 file DuckDB reads (the original, or a transcoded/normalised copy)
    encoding: str  # what the delivery used: 'utf-8', 'utf-8-sig' or 'cp1252'
    separator: str
    header: list[str]
    record_lines: np.ndarray  # physical line (1-based) where each record starts; [0] = header
    record_offsets: np.ndarray  # byte offset where each record starts
    newline: str = "\n"
    notes: list[str] = field(default_factory=list)
    size: int = 0  # bytes of `path`


@dataclass
class Sniff:
    encoding: str  # 'utf-8', 'utf-8-sig' or 'cp1252'
    newline: str  # '\n' or '\r\n' when consistent; '' when lines end differently (CR, mixed)


# A valid UTF-8 multi-byte sequence (RFC 3629): its presence means the file is meant as UTF-8.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def sniff(path: Path) -> Sniff:
    """Encoding and line endings of a delivered text file, decided for the file as a whole.

    UTF-8 (with or without BOM) when the whole file is valid UTF-8; Windows-1252 only when it
    holds no valid UTF-8 multi-byte sequence at all. A file that is UTF-8 except for some
    bytes is a structural fault naming the line of the first bad byte (never mojibake).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    lf = cr = crlf = 0
    prev_cr = False
    offset = 0
    bad_at: int | None = None
    bom = False
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if offset == 0:
                bom = chunk.startswith(codecs.BOM_UTF8)
                _refuse_wide(chunk)
            lf += chunk.count(b"\n")
            crs = chunk.count(b"\r")
            if crs or prev_cr:  # most files have no CR: the third pass is skipped
                cr += crs
                crlf += chunk.count(b"\r\n") + (prev_cr and chunk[:1] == b"\n")
            prev_cr = chunk[-1:] == b"\r"
            pending = len(decoder.getstate()[0])
            # an ASCII chunk after a complete character is valid UTF-8: not decoded (~4× faster)
            if bad_at is None and (pending or not chunk.isascii()):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad_at = offset - pending + exc.start
            offset += len(chunk)
    if bad_at is None:
        pending = len(decoder.getstate()[0])
        if pending:
            bad_at = offset - pending
    newline = "\n" if cr == 0 else "\r\n" if cr == crlf == lf else ""
    if bad_at is None:
        return Sniff("utf-8-sig" if bom else "utf-8", newline)
    if _has_non_ascii_before(path, bad_at) or _search(path, _UTF8_MULTIBYTE, bad_at) is not None:
        raise UnreadableFile(
            "Zeichenkodierung uneinheitlich: die Datei ist UTF-8, enthält aber ungültige Bytes"
            " (bitte die Datei einheitlich als UTF-8 speichern)",
            line=line_of(path, bad_at),
        )
    undefined = _search(path, _CP1252_UNDEFINED, 0)
    if undefined is not None:
        raise UnreadableFile(
            "Zeichenkodierung nicht erkannt (erlaubt sind UTF-8 und Windows-1252)",
            line=line_of(path, undefined),
        )
    return Sniff("cp1252", newline)


_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _refuse_wide(head: bytes) -> None:
    """UTF-16 or UTF-32 (Excel's "Unicode-Text"): by its byte order mark, or without one by
    its zero bytes (every second byte of Latin text). Read as UTF-8 or Windows-1252 it would
    give wrong columns and messages that spell a header with zero bytes between its letters;
    a single zero byte in a cell stays a fault of its row."""
    sample = head[:4096]
    if sample.startswith(_WIDE_BOMS) or (len(sample) >= 8 and sample.count(0) * 4 > len(sample)):
        raise UnreadableFile(
            "Datei ist als UTF-16 oder UTF-32 kodiert (in Excel „Unicode-Text“); erlaubt sind"
            " UTF-8 und Windows-1252 (bitte als „CSV UTF-8“ speichern)"
        )


def detect_encoding(path: Path) -> str:
    """'utf-8-sig', 'utf-8' or 'cp1252' (the only encodings the contract accepts)."""
    return sniff(path).encoding


def _has_non_ascii_before(path: Path, end: int) -> bool:
    with open(path, "rb") as fh:
        left = end
        while left > 0 and (chunk := fh.read(min(CHUNK, left))):
            left -= len(chunk)
            if not chunk.isascii():
                return True
    return False


def _search(path: Path, pattern: re.Pattern, start: int) -> int | None:
    """Offset of the first match of a short byte pattern at or after `start`."""
    overlap = 4
    with open(path, "rb") as fh:
        fh.seek(start)
        base = start
        tail = b""
        while chunk := fh.read(CHUNK):
            buf = tail + chunk
            m = pattern.search(buf)
            if m:
                return base - len(tail) + m.start()
            tail = buf[-overlap:]
            base += len(chunk)
    return None


def line_of(path: Path, offset: int) -> int:
    """Physical line (1-based) of a byte offset: LF, CRLF and a lone CR each end a line."""
    lines = 1
    prev_cr = False
    with open(path, "rb") as fh:
        left = offset
        while left > 0 and (chunk := fh.read(min(CHUNK, left))):
            left -= len(chunk)
            lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            lines -= prev_cr and chunk[:1] == b"\n"
            prev_cr = chunk[-1:] == b"\r"
    return lines


def make_readable(src: Path, dst: Path, encoding: str, normalise_newlines: bool) -> Path:
    """Stream a copy DuckDB can read: UTF-8 (from Windows-1252) and/or every line ending as LF
    (CRLF and a lone CR each become one LF, so the physical line count stays the same)."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        carry = b""
        while chunk := fin.read(CHUNK):
            if encoding == "cp1252":
                chunk = chunk.decode("cp1252").encode("utf-8")
            if normalise_newlines:
                chunk = carry + chunk
                carry = b""
                if chunk.endswith(b"\r"):  # may be the first half of a CRLF
                    carry, chunk = b"\r", chunk[:-1]
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            fout.write(chunk)
        if carry:
            fout.write(b"\n")
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
    if len(newlines):
        end_pos = np.where(
            ends < len(newlines), newlines[np.minimum(ends, len(newlines) - 1)], size
        )
    else:  # one line without a line break (a header-only file)
        end_pos = np.full(len(starts), size, dtype=np.int64)
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


def read_header(
    path: Path, offsets: np.ndarray, max_bytes: int = 4_000_000
) -> tuple[list[str], str]:
    """The header record's fields and the separator (';' or ',')."""
    size = path.stat().st_size
    end = offsets[1] if len(offsets) > 1 else size
    if end - offsets[0] > max_bytes:
        raise LimitExceeded(f"Kopfzeile ist länger als {de_int(max_bytes)} Bytes", line=1)
    with open(path, "rb") as fh:
        fh.seek(int(offsets[0]))
        raw = fh.read(int(end - offsets[0]))
    first = raw.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    sep = ";" if first.count(";") > first.count(",") else ","
    fields = next(csv.reader(io.StringIO(first, newline=""), delimiter=sep, quotechar='"'), [])
    return [f.strip() for f in fields], sep


def inspect_csv(path: Path, workdir: Path, limits=None) -> CsvLayout:
    """Encoding, line endings, separator, header and record structure of a delivered CSV."""
    limits = limits or Limits()
    if path.stat().st_size == 0:
        raise UnreadableFile("Datei ist leer")
    sn = sniff(path)
    readable, newline = path, sn.newline
    if sn.encoding == "cp1252" or not newline:
        workdir.mkdir(parents=True, exist_ok=True)
        readable = make_readable(path, workdir / f"lesbar-{id(path)}.csv", sn.encoding, not newline)
        newline = newline or "\n"
    limits.check_time()
    lines, offsets, unterminated = record_structure(readable)
    if len(lines) == 0:
        raise UnreadableFile("Datei enthält keine Kopfzeile")
    if unterminated:
        raise UnreadableFile(
            "Anführungszeichen wird nicht geschlossen – die Datei ist ab hier nicht eindeutig"
            " lesbar",
            line=int(lines[-1]),
        )
    header, sep = read_header(readable, offsets, limits.max_line_bytes)
    width = max((i + 1 for i, h in enumerate(header) if h), default=0)
    if width > limits.max_columns or len(header) > 10 * limits.max_columns:
        raise LimitExceeded(
            f"Kopfzeile hat {de_int(max(width, len(header)))} Spalten, erlaubt sind höchstens"
            f" {de_int(limits.max_columns)}",
            line=1,
        )
    notes = []
    if sn.newline == "" and len(lines):
        notes.append("Zeilenenden uneinheitlich (CR, LF, CRLF) – einheitlich gelesen")
    return CsvLayout(
        readable,
        sn.encoding,
        sep,
        header,
        lines,
        offsets,
        newline,
        notes,
        readable.stat().st_size,
    )


def load_csv(
    con: duckdb.DuckDBPyConnection, layout: CsvLayout, target: str, max_line_bytes: int = 4_000_000
) -> tuple[int, list[tuple[int, str]]]:
    """Load all data records as temp relation `target` (c0..cN VARCHAR + __line).

    Returns (rows of target, malformed records as (line, German reason)). Every record of the
    file is either a row of `target` or a malformed record; anything else is a structural fault
    (UnreadableFile). A file that is only a header is an empty table. Otherwise `target` is a
    view pairing the scanned records with their lines (POSITIONAL JOIN), so the values are
    copied once, by its reader (reader._map_columns), not twice: 2.5 of 53 s of the ingest's
    CPU at 1,000,000 cases. `drop_loaded` removes it with the tables under it.
    """
    ncols = max(len(layout.header), 1)
    drop_loaded(con, target)  # whatever an earlier file left under these names
    if len(layout.record_offsets) <= 1:  # header only, with or without a final line break
        cols = ", ".join(f"NULL::VARCHAR AS c{i}" for i in range(ncols))
        keep_as_loaded(con, target, f"SELECT {cols}, NULL::BIGINT AS __line WHERE false")
        return 0, []
    try:
        return _scan_records(con, layout, target, ncols, max_line_bytes)
    except BaseException:
        # the first error is the one to report: after an interrupt (the time limit) DuckDB's
        # transaction is aborted and refuses the drop; its rollback removes the tables then
        with contextlib.suppress(duckdb.Error):
            drop_loaded(con, target)
        raise


def _scan_records(con, layout: CsvLayout, target: str, ncols: int, max_line_bytes: int):
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    scan, rejects, scans, lines = (f"{target}_{s}" for s in ("raw", "rej", "scn", "lin"))
    # Temp tables only: delivered values never reach the warehouse file before the gate.
    con.execute(
        f"""CREATE TEMP TABLE {scan} AS
        SELECT * FROM read_csv(?, auto_detect=false, header=true, delim=?, quote='"',
            escape='"', new_line=?, columns={columns}, null_padding=true, parallel=false,
            ignore_errors=true, store_rejects=true, rejects_table='{rejects}',
            rejects_scan='{scans}', max_line_size={int(max_line_bytes)}, encoding='utf-8')""",
        [str(layout.path), layout.separator, layout.newline.encode("unicode_escape").decode()],
    )
    scanned = con.execute(f"SELECT count(*) FROM {scan}").fetchone()[0]
    rej = con.execute(
        f"SELECT byte_position, min(error_type) FROM {rejects} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    con.execute(f"DROP TABLE {rejects}; DROP TABLE {scans}")
    data_offsets = layout.record_offsets[1:]
    data_lines = layout.record_lines[1:]
    rej_idx = np.searchsorted(data_offsets, np.array([r[0] for r in rej], np.int64), "right") - 1
    bad = np.zeros(len(data_offsets), dtype=bool)
    bad[rej_idx[rej_idx >= 0]] = True
    kept_lines = data_lines[~bad]
    if scanned != len(kept_lines):
        raise UnreadableFile(
            "Zeilenstruktur nicht eindeutig lesbar (die Anzahl der gelesenen Datensätze stimmt"
            " nicht mit den Zeilen der Datei überein)"
        )
    record_lines = _lines_frame(kept_lines)  # noqa: F841 - read by DuckDB (replacement scan)
    con.execute(f"CREATE TEMP TABLE {lines} AS SELECT * FROM record_lines")
    con.execute(
        f"CREATE TEMP VIEW {target} AS SELECT s.*, l.__line FROM {scan} s POSITIONAL JOIN {lines} l"
    )
    seen: set[int] = set()
    malformed = []
    for i, r in zip(rej_idx, rej, strict=True):
        if i >= 0 and int(i) not in seen:
            seen.add(int(i))
            malformed.append((int(data_lines[i]), _reject_reason(r[1])))
    return scanned, malformed


def keep_as_loaded(con: duckdb.DuckDBPyConnection, target: str, sql: str, sheet=None) -> None:
    """Store `sql`'s rows under `target` the way load_csv does (a view over a table), for a
    header-only file or a sheet, so `drop_loaded` removes every kind alike. `sql` may read
    `sheet` (an Arrow table) by that name: DuckDB finds it among this function's locals."""
    con.execute(f"CREATE TEMP TABLE {target}_raw AS {sql}")
    con.execute(f"CREATE TEMP VIEW {target} AS SELECT * FROM {target}_raw")


def drop_loaded(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """Remove the view `target` made by load_csv or keep_as_loaded and the tables under it."""
    con.execute(
        "; ".join(
            [f"DROP VIEW IF EXISTS {target}"]
            + [f"DROP TABLE IF EXISTS {target}_{part}" for part in ("raw", "lin", "rej", "scn")]
        )
    )


def record_texts(layout: CsvLayout, lines: list[int], piece: int = 1_000_000) -> list[tuple]:
    """The raw text of the records starting at `lines`, as (line, text) pieces of at most
    `piece` bytes (overlapping a little, so a value split between pieces is seen whole). The
    identifier gate scans them: a row rejected for its shape is still part of the delivery."""
    if not lines:
        return []
    index = {int(line): i for i, line in enumerate(layout.record_lines)}
    out = []
    with open(layout.path, "rb") as fh:
        for line in lines:
            i = index.get(int(line))
            if i is None:
                continue
            start = int(layout.record_offsets[i])
            end = (
                int(layout.record_offsets[i + 1])
                if i + 1 < len(layout.record_offsets)
                else layout.size
            )
            pos = start
            while pos < end:
                fh.seek(pos)
                raw = fh.read(min(piece, end - pos))
                out.append((int(line), raw.decode("utf-8", errors="replace")))
                if pos + len(raw) >= end:
                    break
                pos += max(len(raw) - 256, 1)
    return out


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
