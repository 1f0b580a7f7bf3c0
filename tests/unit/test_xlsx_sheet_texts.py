"""An XLSX sheet holds text beside its cell values: formulas, page headers and footers, data
validations' messages, number formats. The identifier gate reads them too (review of
2026-12-06: all four were accepted with a phone number or an e-mail in them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.warehouse import connect
from pipelines.ingest.limits import Limits
from pipelines.ingest.load import inspect_delivery
from pipelines.ingest.xlsxfile import check_workbook
from tests.hostile.corpus import xlsxwriter_book

PHONE = "0221 98765432"
EMAIL = "max.muster@example.org"


def _header_footer(wb, ws):
    ws.set_header(f"&LSachbearbeitung: Frau Muster, Tel. {PHONE}")
    ws.set_footer(f"&R{EMAIL}")


def _formula(wb, ws):
    ws.write(0, 8, "Kontakt")
    ws.write_formula(1, 8, f'=HYPERLINK("mailto:{EMAIL}","Mail")', None, "Mail")
    ws.write_formula(2, 8, f'=IF(TRUE,"ok","Tel. {PHONE}")', None, "ok")


def _validation(wb, ws):
    ws.data_validation(
        "A2:A3", {"validate": "any", "input_title": "Hinweis", "input_message": f"Fragen: {EMAIL}"}
    )


def _number_format(wb, ws):
    ws.write(0, 8, "Rueckruf")
    ws.write_number(1, 8, 1, wb.add_format({"num_format": f'"Tel. {PHONE}"'}))


PLANTED = {
    "header_footer": (_header_footer, (PHONE, EMAIL)),
    "formula": (_formula, (PHONE, EMAIL)),
    "validation": (_validation, (EMAIL,)),
    "number_format": (_number_format, (PHONE,)),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_the_gate_reads_a_sheets_text_beside_its_values(tmp_path: Path, case: str):
    setup, values = PLANTED[case]
    path = xlsxwriter_book(tmp_path / "in", f"x-{case}.xlsx", "x-plant", setup)
    texts = "\n".join(text for _, text in check_workbook(path, Limits()).texts)
    for value in values:
        assert value in texts, case
    con = connect()
    try:
        insp = inspect_delivery(con, path, tmp_path / "work")
    finally:
        con.close()
    assert insp.quarantine, case


def test_a_plain_workbook_gives_no_sheet_text_of_its_values(tmp_path: Path):
    """Cell values stay with calamine (they are checked row by row), not read twice."""
    path = xlsxwriter_book(tmp_path / "in", "x-plain.xlsx", "x-plain")
    parts = [part for part, _ in check_workbook(path, Limits()).texts]
    assert not any(p.startswith("xl/worksheets/") for p in parts)
