"""`lagebild generate` on disk: each export variant really has its bytes, faults are where the
summary says, and the same seed writes the same bytes with the same modification times."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

from generator import generate_inbox
from generator.writers import mtime_of

EXPORTED = date(2026, 10, 15)
ARGS = {"cases": 2500, "providers": 8, "seed": 3, "exported_on": EXPORTED}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    out = tmp_path_factory.mktemp("inbox")
    return out, generate_inbox(out, with_faults=True, **ARGS)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return out, generate_inbox(out, with_faults=False, **ARGS)


def _by_format(summary, fmt: str):
    return next(
        d for d in summary.deliveries if d.format == fmt and d.expected_status == "accepted"
    )


def _snapshot(root: Path) -> dict[str, tuple[bytes, float]]:
    files = {}
    for p in sorted(root.rglob("*")):
        files[str(p.relative_to(root))] = (
            p.read_bytes() if p.is_file() else b"",
            p.stat().st_mtime,
        )
    return files


def _rows(text: str, sep: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))


# --- layout and determinism ---------------------------------------------------------------


def test_same_seed_writes_identical_bytes_and_mtimes(tmp_path, inbox):
    out, summary = inbox
    again = tmp_path / "again"
    generate_inbox(again, with_faults=True, **ARGS)
    assert _snapshot(out) == _snapshot(again)
    other = tmp_path / "other"
    generate_inbox(other, with_faults=True, **{**ARGS, "seed": 4})
    first = summary.deliveries[0].name
    assert (out / first / "faelle.csv").read_bytes() != (other / first / "faelle.csv").read_bytes()


def test_one_entry_per_delivery_named_after_provider_and_date(inbox):
    out, summary = inbox
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(d.name for d in summary.deliveries)
    for d in summary.deliveries:
        assert d.name.startswith(f"{d.provider_id}_{d.exported_on:%Y%m%d}")
    assert {d.format for d in summary.deliveries} == {"a", "b", "c", "d", "e"}
    assert len({d.provider_id for d in summary.deliveries}) == 8


def test_manifest_or_modification_time_carries_the_export_date(inbox):
    out, summary = inbox
    for d in summary.deliveries:
        path = out / d.name
        assert path.stat().st_mtime == mtime_of(d.exported_on)
        if path.is_dir():
            if d.manifest:
                m = json.loads((path / "manifest.json").read_text("utf-8"))
                assert m == {
                    "provider_id": d.provider_id,
                    "exported_on": d.exported_on.isoformat(),
                    "software": m["software"],
                    "contract_version": 1,
                }
            else:
                assert not (path / "manifest.json").exists()
            for f in path.iterdir():
                assert datetime.fromtimestamp(f.stat().st_mtime).date() == d.exported_on
    assert any(not d.manifest for d in summary.deliveries)


# --- the variants ---------------------------------------------------------------------------


def test_windows_1252_semicolon_german_delivery(inbox):
    out, summary = inbox
    d = _by_format(summary, "a")
    folder = out / d.name
    assert (folder / "faelle.csv").exists() and (folder / "huerden.csv").exists()
    raw = (folder / "huerden.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    # characters that Latin-1 would turn into control codes
    for ch, byte in (("„", b"\x84"), ("“", b"\x93"), ("–", b"\x96")):
        assert byte in raw and ch in text
    assert raw.decode("latin-1").count("\x84") == text.count(
        "„"
    )  # Latin-1 would show control codes
    assert raw.count(b"\r\n") >= raw.count(b"\n") // 2
    header, *rows = _rows(text, ";")
    assert header == [
        "traeger_id",
        "fall_id",
        "festgestellt_am",
        "huerde",
        "lebensbereich",
        "notiz",
    ]
    assert all(len(r) == 6 for r in rows)
    assert any("\n" in r[5] for r in rows) and any(";" in r[5] for r in rows)
    assert all(r[2][2] == "." and r[2][5] == "." for r in rows)
    cases = _rows((folder / "faelle.csv").read_bytes().decode("cp1252"), ";")
    assert cases[0][:3] == ["traeger_id", "fall_id", "personen_pseudonym"]
    assert all(len(r) == len(cases[0]) for r in cases[1:])
    staff = _rows((folder / "stellen.csv").read_bytes().decode("cp1252"), ";")
    assert staff[0][-1] == "vzae" and any("," in r[-1] for r in staff[1:])
    goals = _rows((folder / "ziele.csv").read_bytes().decode("cp1252"), ";")
    assert {r[-1] for r in goals[1:]} == {"ja", "nein"}


def test_utf8_bom_english_delivery(inbox):
    out, summary = inbox
    d = _by_format(summary, "b")
    raw = (out / d.name / "cases.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header, *rows = _rows(raw.decode("utf-8-sig"), ",")
    assert header[:4] == ["provider_id", "case_id", "person_key", "program"]
    opened = header.index("opened_on")
    assert all(len(r[opened]) == 10 and r[opened][4] == "-" for r in rows)
    goals = _rows((out / d.name / "goals.csv").read_text("utf-8-sig"), ",")
    assert {r[-1] for r in goals[1:]} == {"true", "false"}
    assert (out / d.name / "relapses.csv").read_text("utf-8-sig").strip().count("\n") >= 0


def test_xlsx_delivery_has_one_sheet_per_table_with_date_cells(inbox):
    from python_calamine import CalamineWorkbook

    out, summary = inbox
    d = _by_format(summary, "c")
    assert d.name.endswith(".xlsx")
    wb = CalamineWorkbook.from_path(str(out / d.name))
    assert set(wb.sheet_names) >= {
        "Faelle",
        "Ziele",
        "Vermittlungen",
        "Kontakte",
        "Huerden",
        "Stellen",
    }
    rows = wb.get_sheet_by_name("Faelle").to_python()
    header = rows[0]
    assert (
        "fall_id" in header and "personen_pseudonym" not in header
    )  # this software has no pseudonym
    beginn = header.index("beginn")
    assert all(isinstance(r[beginn], date) for r in rows[1:])
    region = header.index("regionalschluessel")
    assert all(isinstance(r[region], str) and r[region].startswith("05") for r in rows[1:])
    assert len(rows) - 1 == d.rows["cases"]


def test_zip_delivery_holds_the_csv_files_and_manifest(inbox):
    out, summary = inbox
    d = _by_format(summary, "d")
    with zipfile.ZipFile(out / d.name) as zf:
        names = set(zf.namelist())
        assert {
            "cases.csv",
            "goals.csv",
            "referrals.csv",
            "contacts.csv",
            "barriers.csv",
            "staffing.csv",
        } <= names
        text = zf.read("cases.csv").decode("utf-8")
        if d.manifest:
            assert json.loads(zf.read("manifest.json"))["provider_id"] == d.provider_id
    header, *rows = _rows(text, ",")
    assert header[:2] == ["provider_id", "case_id"]
    assert len(rows) == d.rows["cases"]
    assert {r[0] for r in rows} == {d.provider_id}


def test_odd_headers_trailing_column_and_x_booleans(inbox):
    out, summary = inbox
    d = _by_format(summary, "e")
    text = (out / d.name / "cases.csv").read_text("utf-8")
    first = text.split("\n", 1)[0]
    assert " Fall_ID " in first.split(";")
    assert first.endswith(";")
    header, *rows = _rows(text, ";")
    assert header[-1] == "" and all(r[-1] == "" for r in rows)
    goals = _rows((out / d.name / "goals.csv").read_text("utf-8"), ";")
    assert {r[-2] for r in goals[1:]} == {"x", ""}


def test_row_counts_match_the_summary(inbox):
    out, summary = inbox
    for d in summary.deliveries:
        if d.format not in ("a", "b", "e") or d.expected_status not in ("accepted", "superseded"):
            continue
        for f in (out / d.name).glob("*.csv"):
            enc = "cp1252" if d.format == "a" else "utf-8-sig"
            sep = "," if d.format == "b" else ";"
            rows = _rows(f.read_bytes().decode(enc), sep)
            table = {
                "faelle": "cases",
                "ziele": "goals",
                "vermittlungen": "referrals",
                "kontakte": "contacts",
                "huerden": "barriers",
                "stellen": "staffing",
                "rueckfaelle": "relapses",
            }.get(f.stem, f.stem)
            assert len(rows) - 1 == d.rows[table], (d.name, f.name)


def test_plain_mode_writes_utf8_comma_folders_only(tmp_path):
    summary = generate_inbox(tmp_path, cases=600, providers=5, seed=2, plain=True)
    for d in summary.deliveries:
        path = tmp_path / d.name
        assert path.is_dir() and d.format == "plain" and d.manifest
        assert sorted(p.name for p in path.iterdir()) == sorted(
            [
                "barriers.csv",
                "cases.csv",
                "contacts.csv",
                "goals.csv",
                "manifest.json",
                "referrals.csv",
                "relapses.csv",
                "staffing.csv",
            ]
        )
        raw = (path / "cases.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        raw.decode("utf-8")
        assert raw.split(b"\n", 1)[0].startswith(b"provider_id,case_id,")
    assert sum(d.rows["cases"] for d in summary.deliveries) == 600


# --- planted faults -----------------------------------------------------------------------------


def test_clean_inbox_has_no_planted_faults(clean):
    out, summary = clean
    assert len(summary.deliveries) == 8
    assert all(d.expected_status == "accepted" and not d.faults for d in summary.deliveries)
    for d in summary.deliveries:
        path = out / d.name
        if path.is_dir():
            for f in path.glob("*.csv"):
                raw = f.read_bytes()
                assert b"31.02.2024" not in raw and b"intensiv;" not in raw and b"@" not in raw


def test_row_faults_are_where_the_summary_says(inbox):
    out, summary = inbox
    partial = [d for d in summary.deliveries if d.expected_status == "partial"]
    assert len(partial) == 1
    d = partial[0]
    kinds = {f.kind for f in d.faults}
    assert kinds == {
        "bad_date",
        "unknown_code",
        "closed_before_opened",
        "fte_out_of_range",
        "duplicate_key",
        "orphan_goal",
        "missing_required",
    }
    style_enc, sep = (
        ("cp1252", ";") if d.format in ("a",) else ("utf-8-sig", "," if d.format == "b" else ";")
    )
    files = {
        "cases": ("faelle.csv", "cases.csv"),
        "staffing": ("stellen.csv", "staffing.csv"),
        "goals": ("ziele.csv", "goals.csv"),
    }
    for fault in d.faults:
        name = next(n for n in files[fault.table] if (out / d.name / n).exists())
        lines = (out / d.name / name).read_bytes().decode(style_enc).splitlines()
        line = lines[fault.line - 1]
        cells = next(csv.reader([line], delimiter=sep))
        if fault.kind == "bad_date":
            assert "31.02.2024" in cells or "2024-02-31" in cells
        elif fault.kind == "unknown_code":
            assert "intensiv" in cells
        elif fault.kind == "fte_out_of_range":
            assert cells[-1] in ("1,5", "1.5")
        elif fault.kind == "duplicate_key":
            assert sum(1 for x in lines if x == line) == 2
        elif fault.kind == "missing_required":
            assert cells[3] == ""
        elif fault.kind == "closed_before_opened":
            header = next(csv.reader([lines[0]], delimiter=sep))
            opened, closed = (
                datetime.strptime(cells[header.index(c)], "%d.%m.%Y") for c in ("beginn", "ende")
            )
            assert closed < opened
        elif fault.kind == "orphan_goal":
            case_file = next(n for n in files["cases"] if (out / d.name / n).exists())
            case_ids = {
                r[1] for r in _rows((out / d.name / case_file).read_bytes().decode(style_enc), sep)
            }
            assert cells[1] not in case_ids
    # the rest of the delivery is as clean as any other: the cases file has the normal rows too
    assert d.rows["cases"] >= 100


def test_identifier_redelivery_is_newer_and_carries_an_email(inbox):
    out, summary = inbox
    q = [d for d in summary.deliveries if d.expected_status == "quarantined"]
    assert len(q) == 1
    d = q[0]
    current = next(
        x
        for x in summary.deliveries
        if x.provider_id == d.provider_id and x.expected_status == "accepted"
    )
    assert d.exported_on > current.exported_on
    fault = d.faults[0]
    assert fault.kind == "identifier_email" and fault.table == "barriers" and fault.column == "note"
    path = out / d.name
    if path.is_dir():
        name = next(p for p in path.glob("*.csv") if p.stem in ("barriers", "huerden"))
        enc = "cp1252" if d.format == "a" else "utf-8-sig"
        lines = name.read_bytes().decode(enc).split("\n")
        assert "@" in lines[fault.line - 1]
        assert sum("@" in x for x in lines) == 1


def test_older_snapshot_has_fewer_cases_and_an_earlier_date(inbox):
    out, summary = inbox
    old = [d for d in summary.deliveries if d.expected_status == "superseded"]
    assert len(old) == 1
    newer = next(
        x
        for x in summary.deliveries
        if x.provider_id == old[0].provider_id and x.expected_status == "accepted"
    )
    assert old[0].exported_on < newer.exported_on
    assert old[0].rows["cases"] < newer.rows["cases"]
    assert set(old[0].rows) == set(newer.rows)  # the same tables, so the newer one supersedes all
    assert (out / old[0].name).stat().st_mtime < (out / newer.name).stat().st_mtime


def test_duplicate_is_a_byte_identical_copy(inbox):
    out, summary = inbox
    dup = [d for d in summary.deliveries if d.expected_status == "duplicate"]
    assert len(dup) == 1
    original = next(x for x in summary.deliveries if dup[0].planted[0].endswith(x.name))
    assert dup[0].name != original.name
    assert (out / dup[0].name).read_bytes() == (out / original.name).read_bytes()


def test_cli_prints_a_german_summary(tmp_path, capsys):
    from pipelines.cli import main

    rc = main(
        [
            "generate",
            "--cases",
            "300",
            "--providers",
            "4",
            "--out",
            str(tmp_path / "x"),
            "--seed",
            "5",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "Lieferungen" in text and "Fälle: 300" in text and "Zeilen je Tabelle" in text
    assert len(list((tmp_path / "x").iterdir())) == 4
