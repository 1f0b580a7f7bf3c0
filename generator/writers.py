"""Writing deliveries the way real exports look.

CSV bodies are rendered and written by DuckDB (`COPY ... TO`, quoting only where needed,
preserving row order, so the bytes are deterministic); the header line is written by us, so it
can carry German aliases, odd case and blanks and a trailing empty column. Windows-1252 is
made by transcoding DuckDB's UTF-8 in large chunks. XLSX (small deliveries only) goes through
xlsxwriter with fixed document properties, ZIPs through zipfile with fixed timestamps.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import duckdb
import pyarrow as pa

from data_contracts import load_contract

CHUNK = 16 * 1024 * 1024
XLSX_MAX_CELLS = 1_500_000  # beyond this a "small" Excel export would not be small any more


@dataclass(frozen=True)
class Style:
    encoding: str  # utf-8, utf-8-sig, cp1252
    sep: str
    header: str  # en | de | odd
    dates: str  # iso | de
    decimal: str
    true: str | None
    false: str | None  # None: empty cell
    newline: str
    file_names: str  # en | de
    trailing_empty: bool = False


STYLES = {
    "a": Style("cp1252", ";", "de", "de", ",", "ja", "nein", "\r\n", "de"),
    "b": Style("utf-8-sig", ",", "en", "iso", ".", "true", "false", "\n", "en"),
    "d": Style("utf-8", ",", "en", "iso", ".", "1", "0", "\n", "en"),
    "e": Style("utf-8", ";", "odd", "de", ",", "x", None, "\n", "en", trailing_empty=True),
    "plain": Style("utf-8", ",", "en", "iso", ".", "true", "false", "\n", "en"),
}
XLSX_STYLE = Style("utf-8", ",", "de", "de", ",", "ja", "nein", "\n", "de")

# which optional tables/columns a provider's software leaves out (non-plain mode)
RELAPSES_WHEN_EMPTY = {
    "a": "absent",
    "b": "header",
    "c": "absent",
    "d": "absent",
    "e": "header",
    "plain": "header",
}


def mtime_of(day: date) -> float:
    """Modification time of a delivery exported on `day`: that day, 12:00 UTC (same date in any
    time zone from UTC-11 to UTC+11)."""
    return datetime.combine(day, time(12, 0), tzinfo=UTC).timestamp()


def header_names(table: str, columns: list[str], style: Style) -> list[str]:
    t = load_contract().tables[table]
    out = []
    for i, col in enumerate(columns):
        alias = t.column(col).alias if col in t.column_names else col  # extra columns as named
        if style.header == "en":
            out.append(col)
        elif style.header == "de":
            out.append(alias)
        else:  # odd: German alias, title case, some upper case, some with blanks around
            words = [w.upper() if w == "id" else w.capitalize() for w in alias.split("_")]
            name = "_".join(words)
            if col == "case_id" or i % 3 == 0:
                name = f" {name} "
            elif i % 3 == 1:
                name = name.upper()
            out.append(name)
    if style.trailing_empty:
        out.append("")
    return out


def file_name(table: str, style: Style) -> str:
    t = load_contract().tables[table]
    return f"{t.alias if style.file_names == 'de' else t.name}.csv"


def render_sql(table: str, columns: list[str], style: Style, source: str = "t") -> str:
    """SELECT that renders each column as the export's text (dates, booleans, decimals)."""
    t = load_contract().tables[table]
    exprs = []
    for i, col in enumerate(columns):
        typ = t.column(col).type if col in t.column_names else "text"
        q = f'"{col}"'
        if typ == "date":
            fmt = "%d.%m.%Y" if style.dates == "de" else "%Y-%m-%d"
            e = f"strftime({q}, '{fmt}')"
        elif typ == "bool":
            false = f"'{style.false}'" if style.false is not None else "NULL"
            e = f"CASE WHEN {q} THEN '{style.true}' WHEN NOT {q} THEN {false} END"
        elif typ == "decimal":
            e = f"CAST({q} AS VARCHAR)"
            if style.decimal == ",":
                e = f"replace({e}, '.', ',')"
        else:
            e = f"CAST({q} AS VARCHAR)"
        exprs.append(f"{e} AS c{i}")
    if style.trailing_empty:
        exprs.append("CAST(NULL AS VARCHAR) AS c_trail")
    return f"SELECT {', '.join(exprs)} FROM {source}"


def render_strings(
    con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, style: Style
) -> pa.Table:
    """The export's text cells as an Arrow table of strings (used where rows are edited)."""
    con.register("t_render", data)
    try:
        return con.sql(render_sql(table, data.column_names, style, "t_render")).to_arrow_table()
    finally:
        con.unregister("t_render")


def write_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    data: pa.Table,
    style: Style,
    columns: list[str] | None = None,
) -> int:
    """Write one table as CSV in `style`; returns the number of data rows.

    `data` holds typed contract columns, or - when `columns` (the contract column names for the
    header) is given - cells already rendered by `render_strings` (and possibly edited).
    """
    tmp = path.with_name(path.name + ".body")
    con.register("t_out", data)
    try:
        query = (
            "SELECT * FROM t_out"
            if columns is not None
            else render_sql(table, data.column_names, style, "t_out")
        )
        nl = style.newline.replace("\r", "\\r").replace("\n", "\\n")
        con.execute(
            f"COPY ({query}) TO '{_sql_path(tmp)}' "
            f"(FORMAT csv, HEADER false, DELIMITER '{style.sep}', QUOTE '\"', NEW_LINE E'{nl}')"
        )
    finally:
        con.unregister("t_out")
    names = header_names(table, columns if columns is not None else data.column_names, style)
    header = style.sep.join(_quote(n, style.sep) for n in names) + style.newline
    with open(path, "wb") as out:
        if style.encoding == "utf-8-sig":
            out.write(codecs.BOM_UTF8)
        enc = "cp1252" if style.encoding == "cp1252" else "utf-8"
        out.write(header.encode(enc))
        with open(tmp, "rb") as body:
            if enc == "utf-8":
                shutil.copyfileobj(body, out, CHUNK)
            else:
                decoder = codecs.getincrementaldecoder("utf-8")()
                while chunk := body.read(CHUNK):
                    out.write(decoder.decode(chunk).encode(enc))
                out.write(decoder.decode(b"", final=True).encode(enc))
    tmp.unlink()
    return data.num_rows


def _quote(name: str, sep: str) -> str:
    if sep in name or '"' in name:
        return '"' + name.replace('"', '""') + '"'
    return name


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


def write_xlsx(path: Path, tables: dict[str, pa.Table], created: date) -> dict[str, int]:
    """One sheet per table (German alias as sheet name and headers); dates as date cells."""
    import xlsxwriter

    contract = load_contract()
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties(
        {"title": "Fallexport", "author": "Export", "created": datetime.combine(created, time(12))}
    )
    date_fmt = wb.add_format({"num_format": "dd.mm.yyyy"})
    head_fmt = wb.add_format({"bold": True})
    rows: dict[str, int] = {}
    for name, data in tables.items():
        t = contract.tables[name]
        ws = wb.add_worksheet(t.alias.capitalize())
        cols = data.column_names
        known = set(t.column_names)
        types = [t.column(c).type if c in known else "text" for c in cols]
        for j, c in enumerate(cols):
            ws.write_string(0, j, t.column(c).alias if c in known else c, head_fmt)
        values = [data.column(c).to_pylist() for c in cols]
        for i in range(data.num_rows):
            for j, typ in enumerate(types):
                v = values[j][i]
                if v is None:
                    continue
                if typ == "date":
                    ws.write_datetime(i + 1, j, datetime.combine(v, time()), date_fmt)
                elif typ == "bool":
                    ws.write_string(i + 1, j, "ja" if v else "nein")
                elif typ == "decimal":
                    ws.write_number(i + 1, j, float(v))
                else:
                    ws.write_string(i + 1, j, str(v))
        rows[name] = data.num_rows
    wb.close()
    return rows


def write_manifest(path: Path, provider_id: str, exported_on: date, software: str) -> None:
    manifest = {
        "provider_id": provider_id,
        "exported_on": exported_on.isoformat(),
        "software": software,
        "contract_version": load_contract().version,
    }
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def zip_folder(folder: Path, target: Path, day: date) -> None:
    """Zip the files of `folder` (flat, sorted, fixed timestamps) into `target`."""
    stamp = (day.year, day.month, day.day, 12, 0, 0)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for f in sorted(folder.iterdir()):
            info = zipfile.ZipInfo(f.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            big = f.stat().st_size > 2**31 - 1
            with open(f, "rb") as src, zf.open(info, "w", force_zip64=big) as dst:
                shutil.copyfileobj(src, dst, CHUNK)


def set_mtime(path: Path, day: date) -> None:
    ts = mtime_of(day)
    if path.is_dir():
        for f in path.iterdir():
            os.utime(f, (ts, ts))
    os.utime(path, (ts, ts))
