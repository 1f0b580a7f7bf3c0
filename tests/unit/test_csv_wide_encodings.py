"""A CSV saved as UTF-16 or UTF-32 (Excel's "Unicode-Text") is named for what it is, never read
as UTF-8 or Windows-1252 (review of 2026-12-06: it gave "Pflichtspalte fehlt" and a message
that spelt a header's e-mail with zero bytes between its letters)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from pipelines.ingest.csvfile import UnreadableFile, sniff
from tests.hostile.corpus import HEAD, case_row, csv_text

TEXT = csv_text(HEAD + ",hinweis an erika.muster@beispiel.de", [[*case_row("p1"), "x"]])


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-16-le"),  # without a byte order mark
        TEXT.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
    ],
    ids=["utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "utf32le-bom"],
)
def test_a_wide_encoding_is_a_fault_that_says_so(tmp_path: Path, data: bytes):
    path = tmp_path / "cases.csv"
    path.write_bytes(data)
    with pytest.raises(UnreadableFile) as err:
        sniff(path)
    assert "UTF-16" in str(err.value) and "CSV UTF-8" in str(err.value)
    assert "erika" not in str(err.value)


def test_a_zero_byte_in_one_cell_stays_a_fault_of_its_row(tmp_path: Path):
    path = tmp_path / "cases.csv"
    path.write_bytes(csv_text(HEAD, [case_row("p1", "K\x002")]).encode("utf-8"))
    assert sniff(path).encoding == "utf-8"
