"""What a zip or a workbook carries besides its files and sheets: comments, folder entries,
macros, other parts (review of 2026-12-06: each of these was accepted with an identifier in
it). Each is checked or, where it cannot be, quarantines the delivery."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from kernel.warehouse import connect
from pipelines.ingest.load import inspect_delivery, quarantine_rows
from tests.hostile.corpus import PNG, cases_csv, xlsxwriter_book

EMAIL = "max.muster@example.org"
PHONE = "0221 98765432"


def _zip(path: Path, entries, comment: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
        zf.comment = comment
    return path


def _with_parts(path: Path, parts: dict[str, bytes]) -> Path:
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        for name, data in parts.items():
            dst.writestr(name, data)
    tmp.replace(path)
    return path


def _reasons(path: Path, work: Path) -> list[str] | None:
    """The quarantine reasons of a delivery (None: it would be accepted)."""
    con = connect()
    try:
        insp = inspect_delivery(con, path, work)
        return [row[4] for row in quarantine_rows(insp)] if insp.quarantine else None
    finally:
        con.close()


def _entry_comment(tmp: Path) -> Path:
    info = zipfile.ZipInfo("cases.csv")
    info.comment = f"Rückfragen {PHONE}".encode()
    return _zip(tmp / "z-entry.zip", [(info, cases_csv("z-entry"))])


def _workbook_comment(tmp: Path) -> Path:
    book = xlsxwriter_book(tmp / "b", "b.xlsx", "x-c")
    with zipfile.ZipFile(book) as zf:
        entries = [(i.filename, zf.read(i)) for i in zf.infolist()]
    return _zip(tmp / "x-c.xlsx", entries, f"von {EMAIL}".encode())


CASES = {
    "zip comment": (
        lambda tmp: _zip(
            tmp / "z.zip", [("cases.csv", cases_csv("z"))], f"Export von {EMAIL}".encode()
        ),
        "E-Mail-Adresse",
    ),
    "zip entry comment": (_entry_comment, "Telefonnummer"),
    "empty folder named by an e-mail": (
        lambda tmp: _zip(
            tmp / "z-dir.zip", [(f"{EMAIL}/", b""), ("cases.csv", cases_csv("z-dir"))]
        ),
        "Ordnernamen",
    ),
    "folder entry with data": (
        lambda tmp: _zip(
            tmp / "z-data.zip",
            [("notiz/", f"Tel. {PHONE}".encode()), ("cases.csv", cases_csv("z-data"))],
        ),
        "als Ordner markiert",
    ),
    "workbook with macros": (
        lambda tmp: _with_parts(
            xlsxwriter_book(tmp, "x-vba.xlsm", "x-vba"), {"xl/vbaProject.bin": EMAIL.encode()}
        ),
        "Makros",
    ),
    "workbook with a text part": (
        lambda tmp: _with_parts(
            xlsxwriter_book(tmp, "x-txt.xlsx", "x-txt"), {"customXml/notiz.txt": PHONE.encode()}
        ),
        "nicht auf Identifikatoren geprüft",
    ),
    "workbook printer settings": (
        lambda tmp: _with_parts(
            xlsxwriter_book(tmp, "x-prn.xlsx", "x-prn"),
            {"xl/printerSettings/printerSettings1.bin": f"Drucker {PHONE}".encode("utf-16-le")},
        ),
        "Telefonnummer",
    ),
    "workbook comment": (_workbook_comment, "E-Mail-Adresse"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_containers_hidden_text_quarantines_the_delivery(tmp_path: Path, case: str):
    build, reason = CASES[case]
    reasons = _reasons(build(tmp_path / "in"), tmp_path / "work")
    assert reasons is not None, case
    assert any(reason in r for r in reasons), (case, reasons)
    assert not any(EMAIL in r or PHONE in r for r in reasons)  # never repeated


def test_a_workbooks_preview_picture_is_accepted(tmp_path: Path):
    """Excel may save a picture of the first sheet: its cells are checked themselves."""
    path = _with_parts(
        xlsxwriter_book(tmp_path / "in", "x-thumb.xlsx", "x-thumb"),
        {"docProps/thumbnail.jpeg": PNG},
    )
    assert _reasons(path, tmp_path / "work") is None


def test_an_empty_subfolder_of_a_folder_delivery_is_named_and_checked(tmp_path: Path):
    delivery = tmp_path / "in" / "f-dir"
    (delivery / f"Rückruf {PHONE}").mkdir(parents=True)
    (delivery / "cases.csv").write_text(cases_csv("f-dir"), encoding="utf-8")
    reasons = _reasons(delivery, tmp_path / "work")
    assert reasons and any("Ordnernamen" in r for r in reasons)
