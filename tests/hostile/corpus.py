"""A hand-made corpus of faulty and hostile deliveries, as careless or hostile providers send
them (issue 10). Each `Case` writes one delivery into an inbox and says what must come of it:
the status, a piece of the German reason, the identifier values planted in it (they must never
appear outside quarantine/) and, where it is known, the rows received/loaded/rejected.

Big or special items (zip bombs, FIFOs, sockets, symlinks, 100,000-column headers, sparse
oversized files) are built here by code, never stored: `python -m tests.hostile.build_corpus
DIR` writes the whole corpus into DIR for trying it by hand (`lagebild run --inbox DIR …`).
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Limits the corpus runs with (the pipeline test writes them into lagebild.yaml): small enough
# to exceed with small files, far above every other delivery here.
SETTINGS = {"max_unpacked_bytes": 30_000_000, "max_line_bytes": 1_000_000}

HEAD = "provider_id,case_id,person_key,program,region_code,caseworker_id,opened_on,intensity"
STAFF_HEAD = "provider_id,caseworker_id,program,region_code,valid_from,fte"

# planted identifier values (each must never leave quarantine/)
EMAIL = "max.muster@example.org"
EMAIL_AT = "erika.muster(at)beispiel.de"
EMAIL_BRACKET = "kontakt [at] traeger-west [dot] de"
EMAIL_UMLAUT = "jürgen.müller@straße.de"
PHONE = "0221 98765432"
PHONE_INTL = "+49 170 1234567"
PHONE_ZERO = "+49 (0) 221 9876543"
PHONE_SLASH = "0221/9876543"
PHONE_DASH = "0170-2345678"
PHONE_GROUPS = "0171 234 56 78"
PHONE_COMPACT = "01761234567"
IBAN = "DE89370400440532013000"
IBAN_SPACED = "DE89 3704 0044 0532 0130 00"
BIRTH = "geb. 12.03.1987"
BIRTH_WORD = "Geburtstag: 3.4.1990"
BIRTH_MONTH = "geboren am 12. März 1987"
STREET = "Kölner Straße 12"
STREET_MARKT = "Am Alten Markt 3"
STREET_UMLAUT = "Müllerstraße 5"
# unusual spellings (attacker review 2026-12-06): Unicode blanks and dashes, control characters,
# accents, the Turkish capital İ, dot groups, an IBAN in two blocks
EMAIL_TURKISH_I = "MEHMET.ALİ@GMX.DE"  # DuckDB lowers İ to i, Python to i + U+0307
EMAIL_ACCENT = "rené@web.de"
EMAIL_SPACED_AT = "max.muster @ example.org"
EMAIL_NUL = "max.muster\x00@example.org"
PHONE_NBSP = "0221\u00a098765432"
PHONE_EN_DASH = "0221 – 98765431"
PHONE_TAB = "0170\t8642097"
PHONE_DOTS = "0176.123.45.67"
IBAN_TWO_BLOCKS = "DE89 370400440532013000"
STREET_NBSP = "Hauptstraße\u00a012"


@dataclass
class Case:
    id: str
    cls: str  # corpus class (counted in the report)
    build: Callable[[Path, str], Path]  # (inbox, provider_id) -> the delivery
    status: str  # accepted | partial | quarantined
    reason: str | None = None  # piece of a quarantine or rejection reason
    planted: tuple[str, ...] = ()  # values that must never leave quarantine/
    rows: tuple[int, int, int] | None = None  # received, loaded, rejected
    level: str = "delivery"  # "inbox": only landing can judge it (not a regular file …)
    posix_only: bool = False


# --- building blocks ------------------------------------------------------------------------


def case_row(pid: str, cid: str = "K1", **kw) -> list[str]:
    values = {
        "provider_id": pid,
        "case_id": cid,
        "person_key": "a3f09c1e77b2",
        "program": "kim",
        "region_code": "05315",
        "caseworker_id": "FK1",
        "opened_on": "2025-01-01",
        "intensity": "information",
    }
    values.update(kw)
    return list(values.values())


def csv_text(head: str, rows: list[list[str]], sep: str = ",", nl: str = "\n") -> str:
    head = head.replace(",", sep)
    return nl.join([head, *(sep.join(r) for r in rows)]) + nl


def cases_csv(pid: str, n: int = 2, **kw) -> str:
    return csv_text(HEAD, [case_row(pid, f"K{i}", **kw) for i in range(1, n + 1)])


def staffing_csv(pid: str, fte: str = "1") -> str:
    return csv_text(STAFF_HEAD, [[pid, "FK1", "kim", "05315", "2024-01-01", fte]])


def folder(inbox: Path, name: str, files: dict[str, str | bytes]) -> Path:
    d = inbox / name
    d.mkdir(parents=True)
    for rel, content in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return d


def landed_workspace(root: Path, inbox: Path):
    """A fresh workspace at `root` with the deliveries of `inbox` landed: (connection, ws)."""
    from data_contracts.schema import create_all
    from kernel.warehouse import connect
    from kernel.workspace import Workspace
    from pipelines.ingest.landing import land

    ws = Workspace(root)
    for d in (ws.root, ws.landing_dir, ws.quarantine_dir):
        d.mkdir(parents=True)
    con = connect(ws.db_path)
    create_all(con)
    land(con, ws, inbox)
    return con, ws


def zipped(inbox: Path, name: str, entries: list[tuple[str | zipfile.ZipInfo, bytes | str]]):
    path = inbox / name
    inbox.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # two entries of the same name are the point
        for entry, data in entries:
            zf.writestr(entry, data.encode() if isinstance(data, str) else data)
    return path


def _patch_zip(path: Path, local_offset: int, central_offset: int, value: int, width: int = 2):
    """Overwrite a field in every local and central header (e.g. flags, method)."""
    data = bytearray(path.read_bytes())
    fmt = "<H" if width == 2 else "<I"
    for sig, off in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        i = data.find(sig)
        while i >= 0:
            struct.pack_into(fmt, data, i + off, value)
            i = data.find(sig, i + 4)
    path.write_bytes(bytes(data))


def simple(pid: str, **files) -> dict[str, str | bytes]:
    return {"cases.csv": cases_csv(pid), **files}


def with_note(note: str) -> Callable[[Path, str], Path]:
    def build(inbox: Path, pid: str) -> Path:
        return folder(
            inbox,
            pid,
            {
                "cases.csv": cases_csv(pid),
                "barriers.csv": csv_text(
                    "provider_id,case_id,noted_on,barrier_code,note",
                    [[pid, "K1", "2025-02-01", "sonstiges", f'"{note}"']],
                ),
            },
        )

    return build


def with_case_value(**kw) -> Callable[[Path, str], Path]:
    return lambda inbox, pid: folder(inbox, pid, {"cases.csv": cases_csv(pid, **kw)})


def with_header(header: str) -> Callable[[Path, str], Path]:
    return lambda inbox, pid: folder(
        inbox,
        pid,
        {"cases.csv": csv_text(HEAD + f",{header}", [[*case_row(pid), "x"]])},
    )


# --- XLSX -------------------------------------------------------------------------------------

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openx'
    'mlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/'
    'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1'
    '.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet'
    '+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlform'
    'ats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="faelle" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WBRELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlform'
    'ats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main">'
)


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def sheet_xml(rows: list[list[str]], dimension: str | None = None, extra: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    body = "".join(
        f'<row r="{r}">'
        + "".join(_cell(f"{_col(c)}{r}", v) for c, v in enumerate(row) if v != "")
        + "</row>"
        for r, row in enumerate(rows, 1)
    )
    return f"{_SHEET_HEAD}{dim}<sheetData>{body}{extra}</sheetData></worksheet>"


def raw_xlsx(inbox: Path, name: str, sheet: str, parts: dict[str, bytes | str] | None = None):
    path = inbox / name
    inbox.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WB)
        zf.writestr("xl/_rels/workbook.xml.rels", _WBRELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
        for part, data in (parts or {}).items():
            zf.writestr(part, data)
    return path


def case_rows(pid: str, n: int = 2) -> list[list[str]]:
    return [HEAD.split(","), *(case_row(pid, f"K{i}") for i in range(1, n + 1))]


def xlsxwriter_book(inbox: Path, name: str, pid: str, setup=None) -> Path:
    import xlsxwriter

    path = inbox / name
    inbox.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("faelle")
    for r, row in enumerate(case_rows(pid)):
        ws.write_row(r, 0, row)
    if setup:
        setup(wb, ws)
    wb.close()
    return path


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


# --- the cases --------------------------------------------------------------------------------


def _zip_bomb(inbox: Path, pid: str) -> Path:
    return zipped(
        inbox, f"{pid}.zip", [("cases.csv", cases_csv(pid)), ("pad.csv", b"\0" * 5_000_000)]
    )


def _zip_lying(inbox: Path, pid: str) -> Path:
    path = zipped(inbox, f"{pid}.zip", [("cases.csv", cases_csv(pid) + "#" * 3_000_000)])
    # directory and local header claim 1,000 bytes: the stream must not be trusted
    _patch_zip(path, 22, 24, 1000, width=4)
    return path


def _zip_encrypted(inbox: Path, pid: str) -> Path:
    path = zipped(inbox, f"{pid}.zip", [("cases.csv", cases_csv(pid))])
    _patch_zip(path, 6, 8, 0x1)
    return path


def _zip_deflate64(inbox: Path, pid: str) -> Path:
    path = zipped(inbox, f"{pid}.zip", [("cases.csv", cases_csv(pid))])
    _patch_zip(path, 8, 10, 9)
    return path


def _zip_symlink(inbox: Path, pid: str) -> Path:
    info = zipfile.ZipInfo("cases.csv")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return zipped(inbox, f"{pid}.zip", [(info, "/etc/passwd")])


def _zip_nested(inbox: Path, pid: str) -> Path:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("cases.csv", cases_csv(pid))
    return zipped(
        inbox, f"{pid}.zip", [("cases.csv", cases_csv(pid)), ("mehr.zip", inner.getvalue())]
    )


def _zip_duplicate_names(inbox: Path, pid: str) -> Path:
    bad = cases_csv(pid).replace("a3f09c1e77b2", EMAIL, 1)
    return zipped(inbox, f"{pid}.zip", [("cases.csv", cases_csv(pid)), ("cases.csv", bad)])


def _zip_same_table_twice(inbox: Path, pid: str) -> Path:
    return zipped(
        inbox, f"{pid}.zip", [("cases.csv", cases_csv(pid)), ("cases.csv", cases_csv(pid))]
    )


def _zip_utf8_without_flag(inbox: Path, pid: str) -> Path:
    """Entry name "Fälle.csv" in UTF-8 but without the UTF-8 flag (as many archivers write)."""
    path = zipped(inbox, f"{pid}.zip", [("Faelle.csv", cases_csv(pid))])
    path.write_bytes(path.read_bytes().replace(b"Faelle.csv", "Fälle.csv".encode()))
    return path


def _zip_traversal(inbox: Path, pid: str) -> Path:
    return zipped(inbox, f"{pid}.zip", [("../../cases.csv", cases_csv(pid))])


def _zip_too_big(inbox: Path, pid: str) -> Path:
    big = cases_csv(pid) + "".join(f"#{i:08d}{'x' * 90}\n" for i in range(320_000))
    return zipped(inbox, f"{pid}.zip", [("cases.csv", big)])


def _columns(n: int, trailing: int = 0) -> Callable[[Path, str], Path]:
    def build(inbox: Path, pid: str) -> Path:
        head = HEAD + "".join(f",x{i:x}" for i in range(n - 8)) + "," * trailing
        row = ",".join(case_row(pid)) + "," * (n - 8)
        return folder(inbox, pid, {"cases.csv": head + "\n" + row + "\n"})

    return build


def _manifest(value) -> Callable[[Path, str], Path]:
    def build(inbox: Path, pid: str) -> Path:
        text = value(pid) if callable(value) else value
        return folder(inbox, pid, simple(pid, **{"manifest.json": text}))

    return build


def _fifo_in_inbox(inbox: Path, pid: str) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{pid}.csv"
    os.mkfifo(path)
    return path


def _socket_in_inbox(inbox: Path, pid: str) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{pid}.csv"
    if len(str(path)) >= 100:  # AF_UNIX path limit: fall back to a FIFO
        os.mkfifo(path)
        return path
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    return path


def _symlink_in_inbox(target: str) -> Callable[[Path, str], Path]:
    def build(inbox: Path, pid: str) -> Path:
        inbox.mkdir(parents=True, exist_ok=True)
        path = inbox / pid
        if target == "loop":
            os.symlink(path, path)
        elif target == "dangling":
            os.symlink(inbox / "gibt-es-nicht", path)
        else:  # a valid delivery outside the inbox
            outside = inbox.parent / f"{pid}-draussen"
            folder(outside.parent, outside.name, simple(pid))
            os.symlink(outside, path)
        return path

    return build


OUTSIDE_SECRET = "DE02120300000000202051"  # in a file outside the inbox a symlink points to


def _folder_symlink_outside(inbox: Path, pid: str) -> Path:
    secret = inbox.parent / f"{pid}-geheim.csv"
    secret.write_text(cases_csv(pid).replace("a3f09c1e77b2", OUTSIDE_SECRET))
    d = folder(inbox, pid, {"staffing.csv": staffing_csv(pid)})
    os.symlink(secret, d / "cases.csv")
    return d


def _folder_fifo(inbox: Path, pid: str) -> Path:
    d = folder(inbox, pid, simple(pid))
    os.mkfifo(d / "barriers.csv")
    return d


def _non_utf8_inbox_name(inbox: Path, pid: str) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    name = os.fsdecode(f"{pid}_M".encode() + b"\xe4rz")  # "März" in Windows-1252
    d = inbox / name
    d.mkdir()
    (d / "cases.csv").write_text(cases_csv(pid))
    return d


def _non_utf8_file_name(inbox: Path, pid: str) -> Path:
    d = folder(inbox, pid, {})
    (d / os.fsdecode(b"F\xe4lle.csv")).write_text(
        cases_csv(pid).replace("provider_id,case_id", "traeger_id,fall_id")
    )
    return d


def _too_big_inbox(inbox: Path, pid: str) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{pid}.csv"
    with open(path, "wb") as fh:
        fh.write(cases_csv(pid).encode())
        fh.truncate(SETTINGS["max_unpacked_bytes"] + 1_000_000)  # sparse: no disk used
    return path


def _name_with(value: str, inside: bool = False) -> Callable[[Path, str], Path]:
    def build(inbox: Path, pid: str) -> Path:
        if inside:
            return folder(inbox, pid, simple(pid, **{f"notiz {value}.txt": "Export"}))
        return folder(inbox, f"{pid}_{value}", simple(pid))

    return build


def _subfolder_with(value: str) -> Callable[[Path, str], Path]:
    return lambda inbox, pid: folder(inbox, pid, {f"{value}/cases.csv": cases_csv(pid)})


def _malformed_row_with_email(inbox: Path, pid: str) -> Path:
    text = cases_csv(pid) + ",".join(case_row(pid, "K3")) + f",{EMAIL}\n"
    return folder(inbox, pid, {"cases.csv": text})


def _encoding(data: Callable[[str], bytes]) -> Callable[[Path, str], Path]:
    return lambda inbox, pid: folder(inbox, pid, {"cases.csv": data(pid)})


def _mixed_endings(pid: str) -> bytes:
    r = [",".join(case_row(pid, f"K{i}")) for i in range(1, 5)]
    return (HEAD + "\r\n" + r[0] + "\n" + r[1] + "\r" + r[2] + "\r\n" + r[3] + "\r").encode()


def _quoted_break_mixed(inbox: Path, pid: str) -> Path:
    barriers = (
        "provider_id,case_id,noted_on,barrier_code,note\r\n"
        f'{pid},K1,2025-02-01,wartezeit,"zwei\nZeilen"\r'
        f"{pid},K2,2025-02-01,kosten,Fahrtkosten\n"
    )
    return folder(inbox, pid, {"cases.csv": cases_csv(pid), "barriers.csv": barriers})


def _stray_byte(inbox: Path, pid: str) -> Path:
    """UTF-8 with a real umlaut in line 2 and one Windows-1252 byte in line 3."""
    barriers = (
        (
            "provider_id,case_id,noted_on,barrier_code,note\n"
            f"{pid},K1,2025-02-01,wartezeit,Wartezeit für Therapieplätze\n"
        ).encode()
        + f"{pid},K2,2025-02-01,kosten,Fahrtkosten für Bus".encode("cp1252")
        + b"\n"
    )
    return folder(inbox, pid, {"cases.csv": cases_csv(pid), "barriers.csv": barriers})


def _long_line(inbox: Path, pid: str) -> Path:
    text = cases_csv(pid) + ",".join(case_row(pid, "K3", person_key="y" * 1_200_000)) + "\n"
    return folder(inbox, pid, {"cases.csv": text})


def _xlsx_setup(fn) -> Callable[[Path, str], Path]:
    return lambda inbox, pid: xlsxwriter_book(inbox, f"{pid}.xlsx", pid, fn)


def _docprops(wb, ws):
    wb.set_properties({"author": EMAIL, "title": "Export"})


def _custom_prop(wb, ws):
    wb.set_custom_property("Rückruf", PHONE)


def _comment(wb, ws):
    ws.write_comment("A1", f"Rückfragen an {PHONE_INTL}")


def _image(wb, ws):
    ws.insert_image("K2", "bild.png", {"image_data": io.BytesIO(PNG)})


def _beyond_header(wb, ws):
    ws.write(1, 12, IBAN_SPACED)


def _sheet_named(value: str):
    def setup(wb, ws):
        other = wb.add_worksheet(value[:31])
        other.write(0, 0, "x")

    return setup


def _xlsx_raw(sheet_fn, parts=None) -> Callable[[Path, str], Path]:
    return lambda inbox, pid: raw_xlsx(inbox, f"{pid}.xlsx", sheet_fn(pid), parts)


def _xlsx_ole(inbox: Path, pid: str) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{pid}.xlsx"
    path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 4096)
    return path


def _bomb_sheet(pid: str) -> str:
    pad = "<row/>" * 1_200_000
    return sheet_xml(case_rows(pid), extra=pad)


LOOKALIKE_NOTES = [
    "Wartezeit 9 Monate, Termin am 12.03.2026 um 14:30 Uhr im Raum 0815",
    "Therapieplatz 3 Monate gewartet; auf Platz 3 der Warteliste",
    "Kitaplatz ab 01.08.2026 zugesagt; Fallkonferenz 2/2026; Hilfeplan vom 2025-05-02",
    "Sprachkurs B1 (Modul 4) – 120 € Eigenanteil; Kosten 0,5 Stunden",
    "Jobcenter Köln 50667 verweist an Sozialamt; Regionalschlüssel 05315, AGS 05315000",
    "Linie 705 fährt nur 2x täglich; Deutschlandticket 49 €; Kind (2) und Sohn (3)",
    "psychotherapie, kita_platz, case_management: Pseudonym a3f09c1e77b2, Fall F-2024-0012",
]


def _lookalikes(inbox: Path, pid: str) -> Path:
    cases = csv_text(
        HEAD + ",previous_case_id",
        [
            [
                *case_row(
                    pid, "F-2024-0012", person_key="a3f09c1e77b2", caseworker_id="0a3f09c1e77b"
                ),
                "",
            ],
            [
                *case_row(
                    pid, "F-2024-0013", person_key="3fa9c0e1b2d4a7f6", caseworker_id="FK-0123"
                ),
                "F-2024-0012",
            ],
            [
                *case_row(pid, "20240012", person_key="0000000000000001", caseworker_id="de12ab34"),
                "",
            ],
            [*case_row(pid, "0001234", person_key="be1234567890", caseworker_id="fk.12_3"), ""],
        ],
    )
    notes = csv_text(
        "provider_id,case_id,noted_on,barrier_code,note",
        [[pid, "F-2024-0012", "2025-02-01", "wartezeit", f'"{n}"'] for n in LOOKALIKE_NOTES],
    )
    staff = csv_text(STAFF_HEAD, [[pid, "FK-0123", "kim", "05315", "2024-01-01", "0,5"]], sep=";")
    return folder(inbox, pid, {"cases.csv": cases, "barriers.csv": notes, "staffing.csv": staff})


def _xlsx_lookalikes(inbox: Path, pid: str) -> Path:
    def setup(wb, ws):
        wb.set_properties({"author": "Fachdienst Integration", "company": "Träger West"})
        other = wb.add_worksheet("huerden")
        other.write_row(0, 0, ["provider_id", "case_id", "noted_on", "barrier_code", "note"])
        for r, n in enumerate(LOOKALIKE_NOTES, 1):
            other.write_row(r, 0, [pid, "K1", "2025-02-01", "wartezeit", n])

    return xlsxwriter_book(inbox, f"{pid}.xlsx", pid, setup)


def _key(**kw) -> Callable[[Path, str], Path]:
    def build(inbox: Path, pid: str) -> Path:
        rows = [case_row(pid, "K1"), case_row(pid, "K2", **kw)]
        return folder(inbox, pid, {"cases.csv": csv_text(HEAD, rows)})

    return build


def _goal_key(goal_id: str) -> Callable[[Path, str], Path]:
    goals = "provider_id,case_id,goal_id,domain,set_on,status,offer_available\n"
    return lambda inbox, pid: folder(
        inbox,
        pid,
        {
            "cases.csv": cases_csv(pid),
            "goals.csv": goals + f"{pid},K1,Z1,sprache,2025-01-05,offen,ja\n"
            f"{pid},K1,{goal_id},wohnen,2025-01-05,offen,ja\n",
        },
    )


def _long_note(inbox: Path, pid: str) -> Path:
    return with_note("x" * 1001)(inbox, pid)


def _exported_future(inbox: Path, pid: str) -> Path:
    return folder(
        inbox,
        pid,
        simple(
            pid, **{"manifest.json": json.dumps({"provider_id": pid, "exported_on": "2999-01-01"})}
        ),
    )


def _binary_file(inbox: Path, pid: str) -> Path:
    return folder(inbox, pid, simple(pid, **{"anleitung.pdf": b"%PDF-1.4\n\x00\x01\x02" * 50}))


def _metadata_file(inbox: Path, pid: str) -> Path:
    ds = b"\x00\x00\x00\x01Bud1" + EMAIL.encode("utf-16-be") + b"\x00" * 40
    return folder(inbox, pid, simple(pid, **{".DS_Store": ds}))


def _gb(n: str) -> bytes:
    return n.encode("cp1252")


CASES: list[Case] = [
    # --- reading: encodings, line endings, empty and broken files ---------------------------
    Case(
        "header-only-no-newline",
        "Lesen",
        lambda i, p: folder(i, p, {"cases.csv": HEAD, "staffing.csv": staffing_csv(p)}),
        "accepted",
        rows=(1, 1, 0),
    ),
    Case(
        "header-only-lf",
        "Lesen",
        lambda i, p: folder(i, p, {"cases.csv": HEAD + "\n", "staffing.csv": staffing_csv(p)}),
        "accepted",
        rows=(1, 1, 0),
    ),
    Case(
        "header-only-crlf",
        "Lesen",
        lambda i, p: folder(i, p, {"cases.csv": HEAD + "\r\n", "staffing.csv": staffing_csv(p)}),
        "accepted",
        rows=(1, 1, 0),
    ),
    Case(
        "cr-only",
        "Lesen",
        _encoding(lambda p: cases_csv(p, 3).replace("\n", "\r").encode()),
        "accepted",
        rows=(3, 3, 0),
    ),
    Case(
        "crlf",
        "Lesen",
        _encoding(lambda p: cases_csv(p, 3).replace("\n", "\r\n").encode()),
        "accepted",
        rows=(3, 3, 0),
    ),
    Case("mixed-endings", "Lesen", _encoding(_mixed_endings), "accepted", rows=(4, 4, 0)),
    Case("mixed-endings-quoted-break", "Lesen", _quoted_break_mixed, "accepted", rows=(4, 4, 0)),
    Case(
        "blank-lines-between",
        "Lesen",
        _encoding(lambda p: cases_csv(p, 3).replace("\n", "\n\n\r\n").encode()),
        "accepted",
        rows=(3, 3, 0),
    ),
    Case(
        "utf8-bom",
        "Lesen",
        _encoding(lambda p: b"\xef\xbb\xbf" + cases_csv(p).encode()),
        "accepted",
        rows=(2, 2, 0),
    ),
    Case(
        "cp1252-umlauts-in-note",
        "Lesen",
        lambda i, p: folder(
            i,
            p,
            {
                "cases.csv": cases_csv(p),
                "barriers.csv": b"provider_id;case_id;noted_on;barrier_code;note\n"
                + f"{p};K1;2025-02-01;kosten;„Fahrtkosten“ – 30 € für Müller-Straße".encode(
                    "cp1252"
                )
                + b"\n",
            },
        ),
        "accepted",
        rows=(3, 3, 0),
    ),
    Case(
        "utf8-with-stray-cp1252-byte",
        "Lesen",
        _stray_byte,
        "quarantined",
        "Zeichenkodierung uneinheitlich",
    ),
    Case(
        "undefined-cp1252-byte",
        "Lesen",
        _encoding(lambda p: cases_csv(p).encode() + b"\x81\n"),
        "quarantined",
        "Zeichenkodierung nicht erkannt",
    ),
    Case(
        "empty-file",
        "Lesen",
        lambda i, p: folder(i, p, {"cases.csv": b"", "staffing.csv": staffing_csv(p)}),
        "quarantined",
        "Datei ist leer",
    ),
    Case(
        "unterminated-quote",
        "Lesen",
        _encoding(lambda p: (cases_csv(p) + f'{p},"K3,x\n').encode()),
        "quarantined",
        "Anführungszeichen",
    ),
    Case(
        "binary-as-csv", "Lesen", _encoding(lambda p: bytes(range(256)) * 40), "quarantined", None
    ),
    Case("line-too-long", "Grenzen", _long_line, "partial", "Zeile ist zu lang", rows=(3, 2, 1)),
    Case(
        "too-many-fields",
        "Lesen",
        _encoding(lambda p: (cases_csv(p) + ",".join(case_row(p, "K3")) + ",zu,viel\n").encode()),
        "partial",
        "mehr Felder",
        rows=(3, 2, 1),
    ),
    # --- archives -------------------------------------------------------------------------------
    Case(
        "zip-broken",
        "Archive",
        lambda i, p: (
            i.mkdir(parents=True, exist_ok=True),
            (i / f"{p}.zip").write_bytes(b"PK\x03\x04 kaputt"),
            i / f"{p}.zip",
        )[-1],
        "quarantined",
        "beschädigt",
    ),
    Case("zip-encrypted", "Archive", _zip_encrypted, "quarantined", "verschlüsselt"),
    Case("zip-deflate64", "Archive", _zip_deflate64, "quarantined", "Kompressionsverfahren"),
    Case("zip-symlink-entry", "Nur reguläre Dateien", _zip_symlink, "quarantined", "Symlink"),
    Case("zip-nested", "Archive", _zip_nested, "quarantined", "verschachtelte Archive"),
    Case("zip-bomb-ratio", "Grenzen", _zip_bomb, "quarantined", "Kompressionsverhältnis"),
    Case("zip-lying-directory", "Grenzen", _zip_lying, "quarantined", None),
    Case("zip-too-big-unpacked", "Grenzen", _zip_too_big, "quarantined", "entpackt größer"),
    Case("zip-traversal", "Archive", _zip_traversal, "quarantined", "unzulässige Pfade"),
    Case("zip-same-table-twice", "Archive", _zip_same_table_twice, "quarantined", "mehrfach"),
    Case(
        "zip-duplicate-name-with-email",
        "Identifikatoren: Orte",
        _zip_duplicate_names,
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL,),
    ),
    Case(
        "zip-utf8-name-without-flag", "Archive", _zip_utf8_without_flag, "accepted", rows=(2, 2, 0)
    ),
    # --- limits -----------------------------------------------------------------------------
    Case("columns-100000", "Grenzen", _columns(100_000), "quarantined", "Spalten"),
    Case("columns-101", "Grenzen", _columns(101), "quarantined", "Spalten"),
    Case(
        "columns-trailing-empty", "Grenzen", _columns(10, trailing=300), "accepted", rows=(1, 1, 0)
    ),
    Case(
        "xlsx-dimension-last-cell",
        "Grenzen",
        _xlsx_raw(lambda p: sheet_xml(case_rows(p), dimension="A1:XFD1048576")),
        "quarantined",
        "ist angelegt",
    ),
    Case(
        "xlsx-value-in-last-cell",
        "Grenzen",
        _xlsx_raw(
            lambda p: sheet_xml(
                case_rows(p),
                extra='<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>',
            )
        ),
        "quarantined",
        "Spalten",
    ),
    Case(
        "xlsx-value-far-down",
        "Grenzen",
        _xlsx_raw(
            lambda p: sheet_xml(
                case_rows(p),
                extra='<row r="1000000"><c r="CV1000000" t="inlineStr"><is><t>x</t></is></c></row>',
            )
        ),
        "quarantined",
        "Zellen",
    ),
    Case(
        "xlsx-broken-sheet-xml",
        "Lesen",
        _xlsx_raw(lambda p: sheet_xml(case_rows(p))[:-40]),
        "quarantined",
        "nicht lesbar",
    ),
    Case("xlsx-encrypted-ole", "Lesen", _xlsx_ole, "quarantined", "verschlüsselt"),
    Case(
        "xlsx-150-columns",
        "Grenzen",
        _xlsx_raw(
            lambda p: sheet_xml([HEAD.split(",") + [f"x{i}" for i in range(142)], case_row(p)])
        ),
        "quarantined",
        "Spalten",
    ),
    Case(
        "xlsx-sheet-bomb",
        "Grenzen",
        _xlsx_raw(_bomb_sheet),
        "quarantined",
        "Kompressionsverhältnis",
    ),
    Case(
        "xlsx-embedded-image",
        "Identifikatoren: Orte",
        _xlsx_setup(_image),
        "quarantined",
        "eingebettete",
    ),
    Case(
        "xlsx-value-beyond-header",
        "Identifikatoren: Orte",
        _xlsx_setup(_beyond_header),
        "quarantined",
        "IBAN",
        (IBAN_SPACED,),
    ),
    Case(
        "manifest-deeply-nested",
        "Lesen",
        _manifest("[" * 30_000 + "]" * 30_000),
        "quarantined",
        "manifest.json",
    ),
    Case(
        "manifest-nested-value",
        "Lesen",
        _manifest(lambda p: json.dumps({"provider_id": p, "software": {"name": "x"}})),
        "quarantined",
        "flaches JSON-Objekt",
    ),
    Case(
        "manifest-unknown-key",
        "Lesen",
        _manifest(lambda p: json.dumps({"provider_id": p, "bearbeiter": "x"})),
        "quarantined",
        "flaches JSON-Objekt",
    ),
    Case(
        "manifest-not-json", "Lesen", _manifest("{provider_id: p}"), "quarantined", "manifest.json"
    ),
    Case(
        "manifest-twice",
        "Lesen",
        lambda i, p: folder(i, p, simple(p, **{"manifest.json": "{}", "alt/manifest.json": "{}"})),
        "quarantined",
        "mehrfach",
    ),
    Case("exported-on-2999", "Lesen", _exported_future, "accepted", rows=(2, 2, 0)),
    # --- only regular files -----------------------------------------------------------------
    Case(
        "inbox-fifo",
        "Nur reguläre Dateien",
        _fifo_in_inbox,
        "quarantined",
        "FIFO",
        level="inbox",
        posix_only=True,
    ),
    Case(
        "inbox-socket",
        "Nur reguläre Dateien",
        _socket_in_inbox,
        "quarantined",
        "wird nicht gefolgt",
        level="inbox",
        posix_only=True,
    ),
    Case(
        "inbox-dangling-symlink",
        "Nur reguläre Dateien",
        _symlink_in_inbox("dangling"),
        "quarantined",
        "Symlink",
        level="inbox",
    ),
    Case(
        "inbox-looping-symlink",
        "Nur reguläre Dateien",
        _symlink_in_inbox("loop"),
        "quarantined",
        "Symlink",
        level="inbox",
    ),
    Case(
        "inbox-symlink-to-folder",
        "Nur reguläre Dateien",
        _symlink_in_inbox("folder"),
        "quarantined",
        "Symlink",
        level="inbox",
    ),
    Case(
        "folder-file-symlinked-outside",
        "Nur reguläre Dateien",
        _folder_symlink_outside,
        "quarantined",
        "Symlink",
        (OUTSIDE_SECRET,),
    ),
    Case(
        "folder-fifo-inside",
        "Nur reguläre Dateien",
        _folder_fifo,
        "quarantined",
        "FIFO",
        posix_only=True,
    ),
    Case(
        "inbox-name-not-utf8",
        "Nur reguläre Dateien",
        _non_utf8_inbox_name,
        "accepted",
        rows=(2, 2, 0),
        level="inbox",
    ),
    Case(
        "file-name-not-utf8",
        "Nur reguläre Dateien",
        _non_utf8_file_name,
        "accepted",
        rows=(2, 2, 0),
    ),
    Case("inbox-too-big", "Grenzen", _too_big_inbox, "quarantined", "nicht kopiert", level="inbox"),
    # --- identifiers in keys, codes and typed columns -------------------------------------
    Case(
        "iban-as-caseworker",
        "Identifikatoren: Schlüssel",
        with_case_value(caseworker_id=IBAN),
        "quarantined",
        "IBAN",
        (IBAN,),
    ),
    Case(
        "iban-spaced-as-caseworker",
        "Identifikatoren: Schlüssel",
        with_case_value(caseworker_id=IBAN_SPACED),
        "quarantined",
        "IBAN",
        (IBAN_SPACED,),
    ),
    Case(
        "phone-as-previous-case",
        "Identifikatoren: Schlüssel",
        lambda i, p: folder(
            i,
            p,
            {
                "cases.csv": csv_text(
                    HEAD + ",previous_case_id", [[*case_row(p), PHONE], [*case_row(p, "K2"), ""]]
                )
            },
        ),
        "quarantined",
        "Telefonnummer",
        (PHONE,),
    ),
    Case(
        "phone-intl-as-case-id",
        "Identifikatoren: Schlüssel",
        _key(case_id=PHONE_INTL),
        "quarantined",
        "Telefonnummer",
        (PHONE_INTL,),
    ),
    Case(
        "phone-dash-as-person-key",
        "Identifikatoren: Schlüssel",
        with_case_value(person_key=PHONE_DASH),
        "quarantined",
        "Telefonnummer",
        (PHONE_DASH,),
    ),
    Case(
        "email-as-goal-id",
        "Identifikatoren: Schlüssel",
        _goal_key(EMAIL),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL,),
    ),
    Case(
        "email-at-as-provider-id",
        "Identifikatoren: Schlüssel",
        lambda i, p: folder(i, p, {"cases.csv": cases_csv(EMAIL_AT)}),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL_AT,),
    ),
    Case(
        "phone-in-referral-source",
        "Identifikatoren: Codes",
        lambda i, p: folder(
            i,
            p,
            {
                "cases.csv": csv_text(
                    HEAD + ",referral_source",
                    [[*case_row(p), PHONE_SLASH], [*case_row(p, "K2"), "schule"]],
                )
            },
        ),
        "quarantined",
        "Telefonnummer",
        (PHONE_SLASH,),
    ),
    Case(
        "compact-phone-in-referral-source",
        "Identifikatoren: Codes",
        lambda i, p: folder(
            i,
            p,
            {
                "cases.csv": csv_text(
                    HEAD + ",referral_source",
                    [[*case_row(p), PHONE_COMPACT], [*case_row(p, "K2"), "schule"]],
                )
            },
        ),
        "quarantined",
        "Telefonnummer",
        (PHONE_COMPACT,),
    ),
    Case(
        "email-in-program",
        "Identifikatoren: Codes",
        _key(program=EMAIL),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL,),
    ),
    Case(
        "phone-in-date",
        "Identifikatoren: Codes",
        _key(opened_on=PHONE_GROUPS),
        "quarantined",
        "Telefonnummer",
        (PHONE_GROUPS,),
    ),
    Case(
        "iban-in-region",
        "Identifikatoren: Codes",
        _key(region_code=IBAN),
        "quarantined",
        "IBAN",
        (IBAN,),
    ),
    Case(
        "email-in-fte",
        "Identifikatoren: Codes",
        lambda i, p: folder(
            i, p, {"cases.csv": cases_csv(p), "staffing.csv": staffing_csv(p, fte=EMAIL)}
        ),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL,),
    ),
    # --- identifiers in free text ---------------------------------------------------------
    Case(
        "note-email-at",
        "Identifikatoren: Werte",
        with_note(f"Kontakt {EMAIL_AT}"),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL_AT,),
    ),
    Case(
        "note-email-bracket-dot",
        "Identifikatoren: Werte",
        with_note(f"Kontakt {EMAIL_BRACKET}"),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL_BRACKET,),
    ),
    Case(
        "note-email-umlaut",
        "Identifikatoren: Werte",
        with_note(f"Mail an {EMAIL_UMLAUT}"),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL_UMLAUT,),
    ),
    Case(
        "note-phone-zero",
        "Identifikatoren: Werte",
        with_note(f"Rückruf {PHONE_ZERO}"),
        "quarantined",
        "Telefonnummer",
        (PHONE_ZERO,),
    ),
    Case(
        "note-phone-slash",
        "Identifikatoren: Werte",
        with_note(f"Tel. {PHONE_SLASH}"),
        "quarantined",
        "Telefonnummer",
        (PHONE_SLASH,),
    ),
    Case(
        "note-phone-groups",
        "Identifikatoren: Werte",
        with_note(f"erreichbar {PHONE_GROUPS} ab 9 Uhr"),
        "quarantined",
        "Telefonnummer",
        (PHONE_GROUPS,),
    ),
    Case(
        "note-phone-compact",
        "Identifikatoren: Werte",
        with_note(f"Handy {PHONE_COMPACT}"),
        "quarantined",
        "Telefonnummer",
        (PHONE_COMPACT,),
    ),
    Case(
        "note-iban-spaced",
        "Identifikatoren: Werte",
        with_note(f"Konto {IBAN_SPACED}"),
        "quarantined",
        "IBAN",
        (IBAN_SPACED,),
    ),
    Case(
        "note-birth-geb",
        "Identifikatoren: Werte",
        with_note(f"Klient {BIRTH} in Aleppo"),
        "quarantined",
        "Geburtsdatum",
        (BIRTH,),
    ),
    Case(
        "note-birth-word",
        "Identifikatoren: Werte",
        with_note(BIRTH_WORD),
        "quarantined",
        "Geburtsdatum",
        (BIRTH_WORD,),
    ),
    Case(
        "note-birth-month",
        "Identifikatoren: Werte",
        with_note(f"Sie ist {BIRTH_MONTH}."),
        "quarantined",
        "Geburtsdatum",
        (BIRTH_MONTH,),
    ),
    Case(
        "note-street-two-words",
        "Identifikatoren: Werte",
        with_note(f"wohnt {STREET}, 50667 Köln"),
        "quarantined",
        "Anschrift",
        (STREET,),
    ),
    Case(
        "note-street-markt",
        "Identifikatoren: Werte",
        with_note(f"neu: {STREET_MARKT}."),
        "quarantined",
        "Anschrift",
        (STREET_MARKT,),
    ),
    Case(
        "note-street-umlaut",
        "Identifikatoren: Werte",
        with_note(f"Adresse {STREET_UMLAUT}"),
        "quarantined",
        "Anschrift",
        (STREET_UMLAUT,),
    ),
    *[
        Case(
            f"note-{cid}",
            "Identifikatoren: Werte",
            with_note(f"{before} {value}"),
            "quarantined",
            label,
            (value, *also),
        )
        for cid, before, value, label, also in [
            ("email-turkish-i", "Mail:", EMAIL_TURKISH_I, "E-Mail-Adresse", ("mehmet",)),
            ("email-accent", "Mail", EMAIL_ACCENT, "E-Mail-Adresse", ()),
            ("email-spaced-at", "Mail", EMAIL_SPACED_AT, "E-Mail-Adresse", ("max.muster",)),
            ("email-nul", "Mail", EMAIL_NUL, "E-Mail-Adresse", ("max.muster",)),
            ("phone-nbsp", "Rückruf unter", PHONE_NBSP, "Telefonnummer", ("98765432",)),
            ("phone-en-dash", "Tel.", PHONE_EN_DASH, "Telefonnummer", ("98765431",)),
            ("phone-tab", "Handy", PHONE_TAB, "Telefonnummer", ("8642097",)),
            ("phone-dots", "Mobil:", PHONE_DOTS, "Telefonnummer", ()),
            ("iban-two-blocks", "Konto", IBAN_TWO_BLOCKS, "IBAN", ("370400440532013000",)),
            ("street-nbsp", "wohnt", STREET_NBSP, "Anschrift", ()),
        ]
    ],
    Case(
        "unknown-column-phone-nbsp",
        "Identifikatoren: Werte",
        lambda i, p: folder(
            i,
            p,
            {"cases.csv": csv_text(HEAD + ",Rueckruf", [[*case_row(p), "0221\u00a098765430"]])},
        ),
        "quarantined",
        "Telefonnummer",
        ("0221\u00a098765430", "98765430"),
    ),
    Case(
        "unknown-column-iban",
        "Identifikatoren: Werte",
        lambda i, p: folder(
            i,
            p,
            {
                "cases.csv": csv_text(
                    HEAD + ",bemerkung", [[*case_row(p), IBAN_SPACED], [*case_row(p, "K2"), ""]]
                )
            },
        ),
        "quarantined",
        "IBAN",
        (IBAN_SPACED,),
    ),
    Case(
        "malformed-row-with-email",
        "Identifikatoren: Orte",
        _malformed_row_with_email,
        "quarantined",
        "falscher Feldanzahl",
        (EMAIL,),
    ),
    # --- identifier headers ---------------------------------------------------------------
    *[
        Case(
            f"header-{h.replace(' ', '-')}",
            "Identifikatoren: Überschriften",
            with_header(h),
            "quarantined",
            "direkten Identifikator",
        )
        for h in [
            "Klientenname",
            "NAME_KLIENT",
            "Handynummer",
            "Geb_Datum",
            "Steuer-ID-Nr.",
            "Postleitzahl",
            "E_Mail_Adresse",
            "Mobil",
            "SV-Nummer",
            "Ausweis-Nr",
            # abbreviations (attacker review 2026-12-06)
            "Sozialvers.-Nr.",
            "Rentenvers.-Nr.",
            "RV-Nummer",
            "St.-IdNr.",
            "IdNr",
            "Aktenz.",
            "Nachn.",
            "Kto.-Nr.",
            "KV-Nr",
            "ID card no",
            "Rufnr.",
            "Versicherungsnr",
            "File number",
            "Case number",
            "Mobilfunknummer",
        ]
    ],
    Case(
        "header-carries-phone-nbsp",
        "Identifikatoren: Überschriften",
        with_header("Rückfragen 0221\u00a098765439"),
        "quarantined",
        "Kopfzeile",
        ("0221\u00a098765439", "98765439"),
    ),
    Case(
        "header-carries-email",
        "Identifikatoren: Überschriften",
        with_header(EMAIL),
        "quarantined",
        "Kopfzeile",
        (EMAIL,),
    ),
    # --- identifiers in names, manifest, other files, workbook parts ---------------------
    Case(
        "delivery-name-email",
        "Identifikatoren: Orte",
        _name_with(EMAIL),
        "quarantined",
        "Namen der Lieferung",
        (EMAIL,),
    ),
    Case(
        "delivery-name-phone-nbsp",
        "Identifikatoren: Orte",
        _name_with("Frau M 0221\u00a098765438"),
        "quarantined",
        "Namen der Lieferung",
        ("0221\u00a098765438", "98765438"),
    ),
    Case(
        "file-name-phone",
        "Identifikatoren: Orte",
        _name_with(PHONE, inside=True),
        "quarantined",
        "Ordnernamen",
        (PHONE,),
    ),
    Case(
        "folder-name-birth",
        "Identifikatoren: Orte",
        _subfolder_with("Mustermann geb. 12.03.1987"),
        "quarantined",
        "Ordnernamen",
        ("12.03.1987", "Mustermann"),
    ),
    Case(
        "manifest-software-email",
        "Identifikatoren: Orte",
        _manifest(lambda p: json.dumps({"provider_id": p, "software": f"Fallakte ({EMAIL})"})),
        "quarantined",
        "manifest.json",
        (EMAIL,),
    ),
    Case(
        "liesmich-phone",
        "Identifikatoren: Orte",
        lambda i, p: folder(
            i, p, simple(p, **{"liesmich.txt": f"Export von Frau M.\nRückfragen: {PHONE}\n"})
        ),
        "quarantined",
        "Text der Datei",
        (PHONE,),
    ),
    Case(
        "liesmich-cp1252-street",
        "Identifikatoren: Orte",
        lambda i, p: folder(
            i, p, simple(p, **{"liesmich.txt": f"Absender: {STREET_UMLAUT}\n".encode("cp1252")})
        ),
        "quarantined",
        "Anschrift",
        (STREET_UMLAUT,),
    ),
    Case(
        "hidden-file-email",
        "Identifikatoren: Orte",
        lambda i, p: folder(i, p, simple(p, **{".notiz.txt": EMAIL})),
        "quarantined",
        "E-Mail-Adresse",
        (EMAIL,),
    ),
    Case(
        "os-metadata-email",
        "Identifikatoren: Orte",
        _metadata_file,
        "quarantined",
        "Systemdatei",
        (EMAIL,),
    ),
    Case(
        "binary-extra-file",
        "Identifikatoren: Orte",
        _binary_file,
        "quarantined",
        "nicht auf Identifikatoren geprüft",
    ),
    Case(
        "xlsx-docprops-author-email",
        "Identifikatoren: Orte",
        _xlsx_setup(_docprops),
        "quarantined",
        "Dokumenteigenschaften",
        (EMAIL,),
    ),
    Case(
        "xlsx-custom-property-phone",
        "Identifikatoren: Orte",
        _xlsx_setup(_custom_prop),
        "quarantined",
        "Dokumenteigenschaften",
        (PHONE,),
    ),
    Case(
        "xlsx-comment-phone",
        "Identifikatoren: Orte",
        _xlsx_setup(_comment),
        "quarantined",
        "Telefonnummer",
        (PHONE_INTL,),
    ),
    Case(
        "xlsx-sheet-name-email",
        "Identifikatoren: Orte",
        _xlsx_setup(_sheet_named("m.muster@web.de")),
        "quarantined",
        "Tabellenblatts",
        ("m.muster@web.de",),
    ),
    # --- look-alikes that must pass ---------------------------------------------------------
    Case("lookalikes-csv", "Verwechslungen", _lookalikes, "accepted", rows=(12, 12, 0)),
    Case("lookalikes-xlsx", "Verwechslungen", _xlsx_lookalikes, "accepted", rows=(9, 9, 0)),
    Case(
        "lookalike-header-traegername",
        "Verwechslungen",
        lambda i, p: folder(
            i,
            p,
            {
                "cases.csv": csv_text(
                    HEAD + ",Trägername,Programmname", [[*case_row(p), "Träger West", "KIM"]]
                )
            },
        ),
        "accepted",
        rows=(1, 1, 0),
    ),
    # --- keys and field lengths: the row is rejected ------------------------------------------
    Case(
        "key-markup",
        "Schlüssel und Feldlängen",
        _key(case_id="<script>"),
        "partial",
        "Pseudonym",
        rows=(2, 1, 1),
    ),
    Case(
        "key-formula",
        "Schlüssel und Feldlängen",
        _key(caseworker_id="=HYPERLINK(1)"),
        "partial",
        "Pseudonym",
        rows=(2, 1, 1),
    ),
    Case(
        "key-bracket-goal",
        "Schlüssel und Feldlängen",
        _goal_key("[Z2]"),
        "partial",
        "Pseudonym",
        rows=(4, 3, 1),
    ),
    Case(
        "key-65-chars",
        "Schlüssel und Feldlängen",
        _key(person_key="a" * 65),
        "partial",
        "länger als 64",
        rows=(2, 1, 1),
    ),
    Case(
        "key-leading-dot",
        "Schlüssel und Feldlängen",
        _key(case_id=".K2"),
        "partial",
        "Pseudonym",
        rows=(2, 1, 1),
    ),
    Case(
        "note-1001-chars",
        "Schlüssel und Feldlängen",
        _long_note,
        "partial",
        "länger als 1000",
        rows=(3, 2, 1),
    ),
    Case(
        "code-201-chars",
        "Schlüssel und Feldlängen",
        _key(intensity="i" * 201),
        "partial",
        "länger als 200",
        rows=(2, 1, 1),
    ),
    Case(
        "all-rows-invalid",
        "Schlüssel und Feldlängen",
        lambda i, p: folder(i, p, {"cases.csv": cases_csv(p, intensity="i" * 201)}),
        "quarantined",
        "keine einzige gültige Zeile",
        rows=(2, 0, 2),
    ),
]


def by_id(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def provider_of(case: Case) -> str:
    return "h-" + case.id


def build_all(inbox: Path, cases: list[Case] | None = None) -> dict[str, Path]:
    """Write every case (one delivery each, provider `h-<case id>`) into `inbox`."""
    inbox.mkdir(parents=True, exist_ok=True)
    return {c.id: c.build(inbox, provider_of(c)) for c in cases or CASES}
