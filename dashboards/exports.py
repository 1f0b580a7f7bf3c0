"""Every file the read side hands out: CSV and XLSX, for the dashboard downloads and the reports.

XLSX: one sheet per table, a sheet of definitions and a sheet with the data basis. Suppressed
cells keep their marker text (``x``); every other number stays a number, so the tables
can be recalculated. Each table sheet says in its second row whether suppression was applied
and with which k. CSV: semicolon, decimal comma, UTF-8 with BOM (opens correctly in German
Excel), the suppression statement in its first line.

Formula-safe: keys and labels come from deliveries. Every XLSX cell is written as a string,
number, date or blank cell (`write_string` etc.; the workbook never turns strings into
formulas, URLs or numbers). In CSV every text cell that begins with `=`, `+`, `-`, `@`, a tab
or a carriage return is neutralised as OWASP recommends ("CSV injection"): a leading `'` and
the cell in double quotes. Numbers are never touched, so a negative number stays a number.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from dashboards.catalog import headings
from dashboards.disclosure import Published, internal_note, note

_BAD = re.compile(r"[\[\]:*?/\\]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
WORKBOOK_OPTIONS = {
    "in_memory": True,
    "remove_timezone": True,
    "nan_inf_to_errors": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


@dataclass
class Sheet:
    """One table for a workbook."""

    name: str
    data: pd.DataFrame | Published
    title: str = ""
    labels: dict[str, str] | None = None
    percent: Sequence[str] = ()
    decimals: dict[str, int] = field(default_factory=dict)
    caption: str = ""


def sheet_name(name: str, used: set[str]) -> str:
    base = _BAD.sub("-", name).strip("'")[:31] or "Tabelle"
    candidate, i = base, 2
    while candidate.lower() in used:
        suffix = f" ({i})"
        candidate = base[: 31 - len(suffix)] + suffix
        i += 1
    used.add(candidate.lower())
    return candidate


def _cell(value):
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_, bool)):
        return "ja" if value else "nein"
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    return value


def write_workbook(
    sheets: Sequence[Sheet],
    target: str | Path | io.BytesIO,
    *,
    basis=None,
    suppressed_k: int | None = None,
    role_label: str | None = None,
    definitions: Sequence[tuple[str, str]] = (),
    title: str = "",
    release_id: str | None = None,
) -> None:
    """Write the workbook. `basis` is a dashboards.read.DataBasis (or None)."""
    wb = xlsxwriter.Workbook(
        target if not isinstance(target, Path) else str(target), dict(WORKBOOK_OPTIONS)
    )
    wb.set_properties({"title": title or (sheets[0].title if sheets else "") or "Lagebild"})
    bold = wb.add_format({"bold": True, "font_size": 13})
    head = wb.add_format(
        {"bold": True, "bg_color": "#DDE6F0", "text_wrap": True, "valign": "top", "border": 1}
    )
    muted = wb.add_format({"italic": True, "font_color": "#555555", "text_wrap": False})
    num0 = wb.add_format({"num_format": "#,##0"})
    num1 = wb.add_format({"num_format": "#,##0.0"})
    num2 = wb.add_format({"num_format": "#,##0.00"})
    pct = wb.add_format({"num_format": "0.0%"})
    datef = wb.add_format({"num_format": "dd.mm.yyyy"})
    dtf = wb.add_format({"num_format": "dd.mm.yyyy hh:mm"})
    marker = wb.add_format({"align": "right", "font_color": "#7A1F1F"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    used: set[str] = set()

    for sh in sheets:
        ws = wb.add_worksheet(sheet_name(sh.name, used))
        if isinstance(sh.data, Published):
            df = sh.data.table
            flags = sh.data.flags
            statement = sh.data.note()
        else:
            df = sh.data
            flags = None
            statement = note(suppressed_k) if suppressed_k else internal_note()
        labels = {**headings(df.columns), **(sh.labels or {})}
        ws.write_string(0, 0, str(sh.title or sh.name), bold)
        ws.write_string(1, 0, statement, muted)
        row0 = 2
        if sh.caption:
            ws.write_string(2, 0, str(sh.caption), muted)
            row0 = 3
        header_row = row0 + 1
        for j, col in enumerate(df.columns):
            ws.write_string(header_row, j, str(labels.get(col, col)), head)
        widths = [min(max(len(str(labels.get(c, c))), 8), 40) for c in df.columns]
        for i, rec in enumerate(df.itertuples(index=False)):
            r = header_row + 1 + i
            for j, (col, value) in enumerate(zip(df.columns, rec, strict=True)):
                v = _cell(value)
                flagged = flags is not None and flags.iat[i, j] != ""
                if v is None:
                    ws.write_blank(r, j, None)
                elif flagged or isinstance(v, str):
                    ws.write_string(r, j, str(v), marker if flagged else None)
                    widths[j] = min(max(widths[j], len(str(v)) + 1), 60)
                elif isinstance(v, datetime):
                    ws.write_datetime(r, j, v, dtf)
                elif isinstance(v, date):
                    ws.write_datetime(r, j, datetime(v.year, v.month, v.day), datef)
                elif isinstance(v, (int, float)):
                    if col in sh.percent:
                        fmt = pct
                    elif isinstance(v, int) or col in ("line",):
                        fmt = num0
                    else:
                        d = sh.decimals.get(col, 1)
                        fmt = {0: num0, 1: num1}.get(d, num2)
                    ws.write_number(r, j, v, fmt)
                else:
                    ws.write_string(r, j, str(v))
        for j, w in enumerate(widths):
            ws.set_column(j, j, w + 2)
        if len(df.columns):
            ws.autofilter(header_row, 0, header_row + max(len(df), 1), len(df.columns) - 1)
            ws.freeze_panes(header_row + 1, 0)
            ws.repeat_rows(header_row)  # the header row on every printed page too

    if definitions:
        ws = wb.add_worksheet(sheet_name("Definitionen", used))
        ws.write_string(0, 0, "Definitionen (Metrikdefinitionen v1)", bold)
        ws.write_string(2, 0, "Begriff", head)
        ws.write_string(2, 1, "Definition", head)
        ws.freeze_panes(3, 0)
        ws.repeat_rows(2)
        for i, (term, text) in enumerate(definitions):
            ws.write_string(3 + i, 0, str(term), wrap)
            ws.write_string(3 + i, 1, str(text), wrap)
        ws.set_column(0, 0, 34)
        ws.set_column(1, 1, 110)

    ws = wb.add_worksheet(sheet_name("Datenbasis", used))
    ws.write_string(0, 0, str(title or "Datenbasis"), bold)
    rows: list[tuple[str, object]] = []
    if basis is not None:
        rows += [
            ("Datenstand (as_of)", basis.as_of),
            ("Herkunft des Datenstands", basis.as_of_source),
            ("Lieferungen (aktuell verwendet)", basis.deliveries),
            ("Träger mit aktueller Lieferung", basis.providers),
            ("aufbereitet am", basis.built_at),
            ("Lauf", basis.run_id),
        ]
    rows += [("Veröffentlichung", release_id)] if release_id else []
    rows += [
        ("Ansicht / Rolle", role_label or "—"),
        (
            "Statistische Geheimhaltung",
            note(suppressed_k) if suppressed_k else internal_note(),
        ),
        ("erstellt am", datetime.now().replace(microsecond=0)),
    ]
    for i, (key, value) in enumerate(rows):
        ws.write_string(2 + i, 0, key, head)
        v = _cell(value)
        if isinstance(v, datetime):
            ws.write_datetime(2 + i, 1, v, dtf)
        elif isinstance(v, date):
            ws.write_datetime(2 + i, 1, datetime(v.year, v.month, v.day), datef)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            ws.write_number(2 + i, 1, v)
        else:
            ws.write_string(2 + i, 1, "—" if v is None else str(v))
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 100)
    if basis is not None and len(basis.delivery_list):
        start = 4 + len(rows)
        ws.write_string(start - 1, 0, "Verwendete Lieferungen", bold)
        dl = basis.delivery_list
        lab = headings(dl.columns)
        lab["current_tables"] = "aktuelle Tabellen"
        for j, col in enumerate(dl.columns):
            ws.write_string(start, j, str(lab.get(col, col)), head)
        for i, rec in enumerate(dl.itertuples(index=False)):
            for j, value in enumerate(rec):
                v = _cell(value)
                if isinstance(v, (datetime, date)):
                    v = v.strftime("%d.%m.%Y")
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(start + 1 + i, j, v)
                else:
                    ws.write_string(start + 1 + i, j, "" if v is None else str(v))
        for j in range(2, len(dl.columns)):
            ws.set_column(j, j, 22)
    wb.close()


def workbook_bytes(sheets: Sequence[Sheet], **kwargs) -> bytes:
    buf = io.BytesIO()
    write_workbook(sheets, buf, **kwargs)
    return buf.getvalue()


def neutralise(text: str) -> str:
    """A CSV text cell that a spreadsheet would read as a formula gets a leading `'`."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_number(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return ""
    return repr(float(v)).replace(".", ",")


def _csv_cell(value) -> str:
    """One CSV field: numbers as numbers (decimal comma), every text cell neutralised."""
    v = _cell(value)
    if v is None:
        return ""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return _csv_number(v)
    if isinstance(v, datetime):
        text = v.strftime("%Y-%m-%d" if v.time() == datetime.min.time() else "%Y-%m-%d %H:%M:%S")
    elif isinstance(v, date):
        text = v.isoformat()
    else:
        text = str(v)
    safe = neutralise(text)
    if safe != text or any(ch in text for ch in ';"\n\r'):
        return '"' + safe.replace('"', '""') + '"'
    return safe


def csv_bytes(df: pd.DataFrame, labels: dict[str, str], first_line: str | None = None) -> bytes:
    """Semicolon CSV, UTF-8 with BOM; `first_line` (the suppression note) as a comment."""
    lines = [f"# {first_line}"] if first_line else []
    lines.append(";".join(_csv_cell(labels.get(c, c)) for c in df.columns))
    for rec in df.itertuples(index=False):
        lines.append(";".join(_csv_cell(v) for v in rec))
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


def table_csv(pub: Published, labels: dict | None = None) -> bytes:
    """A published table as CSV, with its suppression statement in the first line."""
    return csv_bytes(pub.table, labels or headings(pub.table.columns), pub.note())


def frame_csv(df: pd.DataFrame) -> bytes:
    """A case-level or audit frame as CSV (German headings)."""
    return csv_bytes(df, headings(df.columns))


def quality_workbook(
    provider: str,
    flags: pd.DataFrame,
    scorecard: pd.DataFrame,
    rejections: pd.DataFrame,
    *,
    basis=None,
    role_label: str | None = None,
) -> bytes:
    """One provider's file for the quarterly round (issue 13): its flags with their review
    state, its scorecard and the rejections of its current delivery."""
    return workbook_bytes(
        [
            Sheet("Hinweise", flags, f"Hinweise zur Datenqualität – Träger {provider}"),
            Sheet("Scorecard", scorecard, f"Datenqualität je Regel – Träger {provider}"),
            Sheet(
                "Zurückweisungen",
                rejections,
                f"Zurückweisungen der aktuellen Lieferung – Träger {provider}",
            ),
        ],
        basis=basis,
        suppressed_k=None,
        role_label=role_label,
        title=f"Datenqualität Träger {provider}",
    )
