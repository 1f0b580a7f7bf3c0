"""Opening one delivery (folder, .zip, .xlsx or a single .csv) into DuckDB temp tables.

Each contract table found becomes a temp table `raw_<table>` with one VARCHAR column per
contract column (missing optional columns are NULL), the columns the contract does not know
(kept only so the identifier gate can scan them) and `__line`, the line a spreadsheet would
show. Fully empty lines are dropped here and never counted. Nothing is typed or judged yet,
except structural faults: they are collected as `Fault`s and quarantine the whole delivery.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import duckdb
import pyarrow as pa

from data_contracts import Contract, Table, normalise_header
from pipelines.ingest.csvfile import UnreadableFile, inspect_csv, load_csv

DATA_SUFFIXES = {".csv", ".xlsx", ".xlsm"}
ENCODING_LABEL = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 mit BOM", "cp1252": "Windows-1252"}
SEPARATOR_LABEL = {";": "Semikolon", ",": "Komma"}


@dataclass
class Fault:
    """A structural fault or identifier hit: quarantines the whole delivery."""

    reason: str
    file_name: str | None = None
    table_name: str | None = None
    line: int | None = None
    column_name: str | None = None


@dataclass
class SourceTable:
    table: Table
    file_name: str
    raw: str  # temp table name
    headers: dict[str, str]  # contract column -> header as written in the file
    extra_columns: dict[str, str]  # temp column -> header of columns the contract does not know
    rows_received: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    bool_mark_columns: set[str] = field(default_factory=set)  # bool columns using x/empty
    detail: str = ""


@dataclass
class ParsedDelivery:
    source_name: str
    kind: str  # folder, zip, xlsx, csv
    tables: dict[str, SourceTable] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def format(self) -> str:
        details = sorted({t.detail for t in self.tables.values() if t.detail})
        return self.kind + (": " + ", ".join(details) if details else "")

    @property
    def rows_received(self) -> int:
        return sum(t.rows_received + len(t.malformed) for t in self.tables.values())


def table_for_name(contract: Contract, name: str) -> Table | None:
    """Table whose English name or German alias is the file/sheet name or one token of it
    (`faelle.csv`, `Fälle`, `2026-10-15_cases.csv`)."""
    stem = PurePosixPath(name).stem
    direct = contract.find_table(stem)
    if direct:
        return direct
    hits = {
        t.name
        for token in re.split(r"[\s_.\-]+", stem)
        if (t := contract.find_table(token)) is not None
    }
    return contract.tables[hits.pop()] if len(hits) == 1 else None


def parse_delivery(
    con: duckdb.DuckDBPyConnection, path: Path, contract: Contract, workdir: Path
) -> ParsedDelivery:
    """Read a delivery into temp tables; collect structural faults instead of raising."""
    kind = _kind(path)
    parsed = ParsedDelivery(source_name=path.name, kind=kind)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        root = _extract_zip(path, workdir / "zip") if kind == "zip" else path
    except UnreadableFile as exc:
        parsed.faults.append(Fault(exc.reason, file_name=path.name))
        return parsed
    files = (
        [root]
        if root.is_file()
        else sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and not any(part.startswith((".", "__MACOSX")) for part in p.parts[-1:])
            and "__MACOSX" not in p.parts
        )
    )
    base = root if root.is_dir() else root.parent
    for f in files:
        rel = str(f.relative_to(base))
        suffix = f.suffix.lower()
        if f.name.lower() == "manifest.json":
            _read_manifest(f, rel, parsed)
        elif suffix == ".csv":
            _add_csv(con, f, rel, contract, workdir, parsed)
        elif suffix in (".xlsx", ".xlsm"):
            _add_workbook(con, f, rel, contract, parsed)
        else:
            parsed.notes.append(f"ignoriert: {rel} (keine Tabellendatei)")
    if not parsed.tables and not parsed.faults:
        parsed.faults.append(
            Fault("Lieferung enthält keine Tabelle des Austauschformats (CSV oder XLSX)")
        )
    return parsed


def _kind(path: Path) -> str:
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    return {".zip": "zip", ".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv"}.get(suffix, "other")


def _extract_zip(path: Path, target: Path) -> Path:
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise UnreadableFile("ZIP enthält unzulässige Pfade")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise UnreadableFile("ZIP-Archiv ist beschädigt oder kein ZIP") from exc
    return target


def _read_manifest(f: Path, rel: str, parsed: ParsedDelivery) -> None:
    try:
        data = json.loads(f.read_text(encoding="utf-8-sig"))
        if not isinstance(data, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        parsed.faults.append(Fault("manifest.json ist kein gültiges JSON-Objekt", file_name=rel))
        return
    parsed.manifest = data


def _add_csv(con, f: Path, rel: str, contract: Contract, workdir: Path, parsed) -> None:
    table = table_for_name(contract, f.name)
    if table is None:
        if f.stat().st_size:
            parsed.faults.append(
                Fault(
                    "unbekannte Tabelle: Dateiname passt zu keiner Tabelle des Austauschformats",
                    file_name=rel,
                )
            )
        return
    if table.name in parsed.tables:
        parsed.faults.append(Fault(f"Tabelle {table.name} ist mehrfach enthalten", file_name=rel))
        return
    target = f"raw_{table.name}"
    try:
        layout = inspect_csv(f, workdir)
        _, malformed = load_csv(con, layout, f"{target}_cells")
    except UnreadableFile as exc:
        parsed.faults.append(Fault(exc.reason, file_name=rel, table_name=table.name, line=exc.line))
        return
    detail = f"CSV {ENCODING_LABEL[layout.encoding]}, {SEPARATOR_LABEL[layout.separator]}"
    _map_columns(
        con, table, rel, layout.header, f"{target}_cells", target, parsed, malformed, detail
    )


def _add_workbook(con, f: Path, rel: str, contract: Contract, parsed) -> None:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(f))
        sheets = list(wb.sheet_names)
    except Exception:  # calamine raises several error types for broken files
        parsed.faults.append(Fault("Arbeitsmappe ist nicht lesbar", file_name=rel))
        return
    for sheet in sheets:
        cells = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        nonempty = any(str(v).strip() for row in cells for v in row)
        where = f"{rel}:{sheet}"
        table = table_for_name(contract, sheet)
        if table is None:
            if nonempty:
                parsed.faults.append(
                    Fault(
                        "unbekanntes Tabellenblatt: Name passt zu keiner"
                        " Tabelle des Austauschformats",
                        file_name=where,
                    )
                )
            continue
        if table.name in parsed.tables:
            parsed.faults.append(
                Fault(f"Tabelle {table.name} ist mehrfach enthalten", file_name=where)
            )
            continue
        if not cells:
            parsed.faults.append(Fault("Tabellenblatt ist leer", file_name=where))
            continue
        header = [_cell_text(v) or "" for v in cells[0]]
        width = len(header)
        columns = {
            f"c{i}": pa.array(
                [_cell_text(r[i]) if i < len(r) else None for r in cells[1:]], pa.string()
            )
            for i in range(width)
        }
        columns["__line"] = pa.array(range(2, len(cells) + 1), pa.int64())
        cells_tbl = f"raw_{table.name}_cells"
        sheet_cells = pa.table(columns)  # noqa: F841 - read by DuckDB (replacement scan)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {cells_tbl} AS SELECT * FROM sheet_cells")
        _map_columns(con, table, where, header, cells_tbl, f"raw_{table.name}", parsed, [], "XLSX")


def _cell_text(v) -> str | None:
    """Spreadsheet cell as the text a CSV export would hold (dates ISO, whole numbers plain)."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _map_columns(
    con,
    table: Table,
    file_name: str,
    header: list[str],
    cells: str,
    target: str,
    parsed: ParsedDelivery,
    malformed,
    detail: str,
) -> None:
    """Rename positional cells to contract columns; check the header for structural faults."""
    from data_contracts.contract import load_contract

    contract = load_contract()
    lookup = table.header_lookup
    mapped: dict[str, str] = {}  # contract column -> cell column
    headers: dict[str, str] = {}
    extra: dict[str, str] = {}
    unnamed: list[str] = []
    for i, h in enumerate(header):
        cell = f"c{i}"
        if not h.strip():
            unnamed.append(cell)
            continue
        if contract.is_identifier_header(h):
            parsed.faults.append(
                Fault(
                    f"Spaltenüberschrift ‚{h}‘ benennt einen direkten Identifikator",
                    file_name=file_name,
                    table_name=table.name,
                    line=1,
                    column_name=h,
                )
            )
            extra[f"x{i}"] = h
            mapped[f"__x{i}"] = cell
            continue
        col = lookup.get(normalise_header(h))
        if col is None:
            extra[f"x{i}"] = h
            mapped[f"__x{i}"] = cell
        elif col in mapped:
            parsed.faults.append(
                Fault(
                    f"Spalte {col} ist doppelt vorhanden (‚{headers[col]}‘ und ‚{h}‘)",
                    file_name=file_name,
                    table_name=table.name,
                    line=1,
                    column_name=h,
                )
            )
        else:
            mapped[col] = cell
            headers[col] = h
    for c in table.required_columns:
        if c.name not in mapped:
            parsed.faults.append(
                Fault(
                    f"Pflichtspalte ‚{c.alias}‘ / ‚{c.name}‘ fehlt",
                    file_name=file_name,
                    table_name=table.name,
                    line=1,
                    column_name=c.alias,
                )
            )
    if unnamed:
        filled = con.execute(
            f"SELECT min(__line) FROM {cells} WHERE "
            + " OR ".join(f"coalesce(trim({c}), '') <> ''" for c in unnamed)
        ).fetchone()[0]
        if filled is not None:
            parsed.faults.append(
                Fault(
                    "Spalte ohne Überschrift enthält Werte",
                    file_name=file_name,
                    table_name=table.name,
                    line=filled,
                )
            )
    select = [f"{cells}.__line AS __line"]
    for c in table.columns:
        select.append(
            f"{mapped[c.name]} AS {c.name}" if c.name in mapped else f"NULL::VARCHAR AS {c.name}"
        )
    for xcol in extra:
        select.append(f"{mapped['__' + xcol]} AS {xcol}")
    all_cells = [mapped[c] for c in mapped] or ["NULL"]
    not_empty = " OR ".join(f"coalesce(trim({c}), '') <> ''" for c in all_cells)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {', '.join(select)} FROM {cells}"
        f" WHERE {not_empty} ORDER BY __line"
    )
    con.execute(f"DROP TABLE IF EXISTS {cells}")
    rows = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    mark = contract.parsing["bool_mark"]
    bool_cols = [c.name for c in table.columns if c.type == "bool" and c.name in mapped]
    marks = set()
    if bool_cols:
        flags = con.execute(
            "SELECT "
            + ", ".join(f"coalesce(bool_or(lower(trim({c})) = '{mark}'), false)" for c in bool_cols)
            + f" FROM {target}"
        ).fetchone()
        marks = {c for c, f in zip(bool_cols, flags, strict=True) if f}
    parsed.tables[table.name] = SourceTable(
        table=table,
        file_name=file_name,
        raw=target,
        headers=headers,
        extra_columns=extra,
        rows_received=rows,
        malformed=malformed,
        bool_mark_columns=marks,
        detail=detail,
    )
    unknown = [h for h in extra.values() if not contract.is_identifier_header(h)]
    if unknown:
        parsed.notes.append(f"{file_name}: unbekannte Spalten nicht geladen: {', '.join(unknown)}")
