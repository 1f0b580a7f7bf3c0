"""Reading a delivered XLSX workbook safely, before and with calamine.

calamine (Rust) builds each sheet as one dense range from its cells: a single value in the
last Excel cell makes it ask for hundreds of gigabytes and abort the whole process, which no
`except` can catch. So the workbook is judged first, from its own XML: the zip directory
against the limits (size, compression ratio, encryption, compression method), each sheet's
declared `<dimension ref>` and the cell references that really hold a value, streamed. Only a
workbook within the limits is handed to calamine, and any error it raises — broken sheet XML
included — is a structural fault of the delivery.

The workbook's other parts (document properties docProps/core.xml, app.xml, custom.xml,
comments, defined names, relationships such as hyperlinks) are returned as text for the
identifier gate. Embedded pictures and objects cannot be checked and are a fault.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipelines.ingest.csvfile import LimitExceeded, UnreadableFile, de_int
from pipelines.ingest.faults import interrupts
from pipelines.ingest.limits import Limits
from pipelines.ingest.members import check_zip_directory, zip_comments

CHUNK = 4 * 1024 * 1024
MAX_TEXT_PART = 50_000_000  # one XML part read as text for the gate
_SHEET = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)>")
_REL = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_DIM = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
# a cell holding something: not self-closing; its reference (column letters, row number)
_CELL_REF = re.compile(
    rb"<(?:\w+:)?c\s[^>]*?\br\s*=\s*[\"']\$?([A-Za-z]{1,7})\$?([0-9]{1,12})[\"'][^>]*?(?<!/)>"
)
_CELL_ANY = re.compile(rb"<(?:\w+:)?c[\s>]")
_REF = re.compile(r"\$?([A-Za-z]{1,7})\$?([0-9]{1,12})")
_TEXT = re.compile(rb">([^<]+)<")
_SKIP_TEXT_PARTS = re.compile(
    r"^xl/(worksheets/[^/]*\.xml|sharedStrings\.xml|styles\.xml|theme/|calcChain\.xml)"
)
# What a sheet holds besides its cell values (calamine reads those, the gate checks them):
# formulas, page headers and footers, data validations' messages and formulas, conditional
# formats' formulas, hyperlinks' texts. A text node may end where a chunk is cut (before a
# tag), so it ends at "<" or at the end of the chunk.
_SHEET_TEXT = re.compile(
    rb"<(?:\w+:)?(?:f|oddHeader|oddFooter|evenHeader|evenFooter|firstHeader|firstFooter"
    rb"|formula|formula1|formula2)\b[^>]*(?<!/)>([^<]*)(?=<|\Z)"
)
_SHEET_ATTRS = re.compile(rb"<(?:\w+:)?(?:dataValidation|hyperlink)\b([^>]*)>")
# parts read as text (VML: the drawing Excel writes for cell comments, XML as well)
_XML_PARTS = (".xml", ".rels", ".vml")
# parts that are no XML but allowed: the preview picture Excel may save (a picture of the
# cells, which are checked) and the printer settings (read for the printer's name)
_BINARY_OK = re.compile(r"^(docProps/thumbnail\.[A-Za-z]{3,4}|xl/printerSettings/[^/]+\.bin)$")
_PRINTABLE = re.compile(r"[^\x00-\x1f\ufffd]{4,}")
# a number format's code may carry any text ("Tel. 0221 …"): styles.xml is read for these only
_NUMBER_FORMAT = re.compile(rb"<(?:\w+:)?numFmt\b([^>]*)>")


@dataclass
class WorkbookCheck:
    sheet_names: list[str] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (part, text) for the gate


def column_number(letters: str | bytes) -> int:
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def _attrs(raw: bytes) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(raw):
        key = m.group(1).decode("utf-8", "replace").split(":")[-1]
        out[key] = html.unescape((m.group(2) or m.group(3) or b"").decode("utf-8", "replace"))
    return out


def _read_part(zf: zipfile.ZipFile, name: str, limit: int = MAX_TEXT_PART) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise LimitExceeded(
            f"Arbeitsmappe: ein Dokumentteil ist größer als {limit // 1_000_000} MB"
        )
    with zf.open(info) as fh:
        return fh.read(limit + 1)[:limit]


def check_workbook(
    path: Path, limits: Limits, show: Callable[[int, str], str] | None = None
) -> WorkbookCheck:
    """Judge a workbook from its XML before calamine opens it (UnreadableFile/LimitExceeded).
    `show(position, sheet name)` is what messages call a sheet (never a name that carries an
    identifier)."""
    show = show or (lambda i, name: f"Blatt {i}")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnreadableFile(
            "Arbeitsmappe ist beschädigt, mit Passwort verschlüsselt oder kein XLSX"
        ) from exc
    result = WorkbookCheck()
    with zf:
        faults = check_zip_directory(zf, limits, "Arbeitsmappe")
        if faults:
            raise UnreadableFile(faults[0][0])
        names = zf.namelist()
        if any(n.startswith(("xl/media/", "xl/embeddings/")) for n in names):
            raise UnreadableFile(
                "Arbeitsmappe enthält eingebettete Bilder oder Objekte; sie können nicht auf"
                " Identifikatoren geprüft werden (bitte nur Tabellenblätter liefern)"
            )
        if "xl/workbook.xml" not in names:
            raise UnreadableFile("Arbeitsmappe ist beschädigt oder kein XLSX")
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise UnreadableFile(
                "Arbeitsmappe enthält Makros (VBA); sie können nicht auf Identifikatoren geprüft"
                " werden (bitte als .xlsx ohne Makros speichern)"
            )
        if any(not n.endswith(("/", *_XML_PARTS)) and not _BINARY_OK.match(n) for n in names):
            raise UnreadableFile(
                "Arbeitsmappe enthält Teile, die keine Tabellen sind und nicht auf"
                " Identifikatoren geprüft werden können (bitte nur Tabellenblätter liefern)"
            )
        result.texts += [("Archivkommentar", text) for _, text in zip_comments(zf)]
        try:
            sheets = _sheet_parts(zf)
            for i, (name, part) in enumerate(sheets, 1):
                result.sheet_names.append(name)
                if part in names:
                    text = _guard_sheet(zf, part, show(i, name), limits)
                    if text:
                        result.texts.append((part, text))
            for part in names:
                if part.startswith("xl/printerSettings/"):  # the printer's name, as UTF-16
                    text = "\n".join(
                        _PRINTABLE.findall(_read_part(zf, part).decode("utf-16-le", "ignore"))
                    )
                    if text:
                        result.texts.append((part, text))
            if "xl/styles.xml" in names:
                data = _read_part(zf, "xl/styles.xml")
                codes = [a for m in _NUMBER_FORMAT.finditer(data) for a in _attr_values(m.group(1))]
                if codes:
                    result.texts.append(("xl/styles.xml", "\n".join(codes)))
            for part in names:
                if part.endswith(_XML_PARTS) and not _SKIP_TEXT_PARTS.match(part):
                    limits.check_time()
                    data = _read_part(zf, part)
                    text = _part_text(data)
                    if text:
                        result.texts.append((part, text))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise UnreadableFile("Arbeitsmappe ist beschädigt und nicht lesbar") from exc
    return result


def _part_text(data: bytes) -> str:
    """Text nodes and attribute values of an XML part, one per line."""
    items = [m.group(1) for m in _TEXT.finditer(data)]
    items += [m.group(2) or m.group(3) or b"" for m in _ATTR.finditer(data)]
    lines = []
    for raw in items:
        t = html.unescape(raw.decode("utf-8", "replace")).strip()
        if t:
            lines.append(t)
    return "\n".join(lines)


def _attr_values(raw: bytes) -> list[str]:
    return [
        t
        for m in _ATTR.finditer(raw)
        if (
            t := html.unescape((m.group(2) or m.group(3) or b"").decode("utf-8", "replace")).strip()
        )
    ]


def _sheet_parts(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, XML part) from workbook.xml and its relationships."""
    wb = _read_part(zf, "xl/workbook.xml")
    rels_name = "xl/_rels/workbook.xml.rels"
    targets = {}
    if rels_name in zf.namelist():
        for m in _REL.finditer(_read_part(zf, rels_name)):
            a = _attrs(m.group(1))
            target = a.get("Target", "")
            if target.startswith("/"):
                part = target.lstrip("/")
            else:
                part = str(PurePosixPath("xl") / target)
            targets[a.get("Id", "")] = str(PurePosixPath(part))
    out = []
    for m in _SHEET.finditer(wb):
        a = _attrs(m.group(1))
        out.append((a.get("name", ""), targets.get(a.get("id", ""), "")))
    return out


def _guard_sheet(zf: zipfile.ZipFile, part: str, sheet: str, limits: Limits) -> str:
    """Declared dimension and the cells that really hold a value: rows x columns within the
    limits before calamine allocates the sheet as one dense range. Returns the sheet's text
    beside its cell values (`_SHEET_TEXT`, `_SHEET_ATTRS`), one item per line, for the gate."""
    texts: list[str] = []
    size = 0
    max_row = max_col = 0
    declared: tuple[int, int] | None = None
    cells_with_ref = cells_any = 0
    tail = b""
    with zf.open(part) as fh:
        while chunk := fh.read(CHUNK):
            limits.check_time()
            buf = tail + chunk
            cut = buf.rfind(b"<")  # keep a tag that may be split across chunks for the next round
            if cut <= 0 or len(buf) - cut > 4096:
                cut = len(buf)
            body, tail = buf[:cut], buf[cut:]
            if declared is None and (m := _DIM.search(body)):
                declared = _dimension(m.group(1).decode("ascii", "replace"))
            found = [
                html.unescape(t.decode("utf-8", "replace")).strip()
                for t in _SHEET_TEXT.findall(body)
            ]
            found += [a for m in _SHEET_ATTRS.finditer(body) for a in _attr_values(m.group(1))]
            for t in found:
                if t:
                    size += len(t)
                    if size > MAX_TEXT_PART:
                        raise LimitExceeded(
                            f"Tabellenblatt {sheet}: Formeln und Kopfzeilen sind größer als"
                            f" {MAX_TEXT_PART // 1_000_000} MB"
                        )
                    texts.append(t)
            refs = _CELL_REF.findall(body)
            cells_with_ref += len(refs)
            cells_any += len(_CELL_ANY.findall(body))
            if refs:
                max_row = max(max_row, max(int(r) for _, r in refs))
                max_col = max(max_col, max(column_number(c) for c in {c for c, _ in refs}))
            _judge(sheet, max_row, max_col, limits, "enthält Werte")
    if declared:
        _judge(sheet, *declared, limits, "ist angelegt")
    if cells_any > cells_with_ref:
        # cells without a reference sit one after the other: at most that many more columns
        extra = cells_any - cells_with_ref
        _judge(sheet, max(max_row, 1), max_col + extra, limits, "enthält Werte")
    return "\n".join(texts)


def _dimension(ref: str) -> tuple[int, int] | None:
    parts = [p for p in ref.split(":") if p]
    if not parts:
        return None
    m = _REF.fullmatch(parts[-1])
    if not m:
        return None
    return int(m.group(2)), column_number(m.group(1))


def _judge(sheet: str, rows: int, cols: int, limits: Limits, how: str) -> None:
    if cols > limits.max_columns:
        raise LimitExceeded(
            f"Tabellenblatt {sheet} {how} in {de_int(cols)} Spalten, erlaubt sind höchstens"
            f" {de_int(limits.max_columns)}"
        )
    if rows * cols > limits.max_sheet_cells:
        raise LimitExceeded(
            f"Tabellenblatt {sheet} {how} in {de_int(rows)} Zeilen × {de_int(cols)} Spalten, mehr"
            f" als die Grenze von {de_int(limits.max_sheet_cells)} Zellen"
        )


def read_sheets(path: Path) -> dict[str, list[list]]:
    """All sheets as lists of rows (calamine), after check_workbook passed. Every error of
    the reader — also a Rust panic, which is no Exception subclass — is a structural fault."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        out = {}
        for name in wb.sheet_names:
            out[name] = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        return out
    except interrupts():
        raise
    except BaseException as exc:  # calamine raises XmlError, ZipError, Rust panics …
        raise UnreadableFile(
            "Arbeitsmappe ist nicht lesbar (fehlerhaftes XML oder beschädigte Datei)"
        ) from exc
