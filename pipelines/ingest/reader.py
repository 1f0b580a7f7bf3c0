"""Opening one delivery (folder, .zip, .xlsx or a single .csv) into DuckDB temp tables.

Each contract table found becomes a temp table `raw_<table>` with one VARCHAR column per
contract column (missing optional columns are NULL), the columns the contract does not know
(kept only so the identifier gate can scan them) and `__line`, the line a spreadsheet would
show. Fully empty lines are dropped here and never counted. Nothing is typed or judged yet,
except structural faults: they are collected as `Fault`s and quarantine the whole delivery.

Everything else that lies in the delivery is collected for the identifier gate too (see
exchange-format.md "What a delivery is made of"): the raw text of records rejected for their
shape (`raw_<table>_bad`), and in `delivery_texts` the text of files that are not tables,
document properties of workbooks and the strings of operating-system metadata files. Short
strings — file, folder, sheet and entry names, headers, manifest values — are checked right
here. A name or header that carries an identifier is never repeated: messages name the file
by its position ("Datei 2 (Name enthält einen Identifikator)").
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from data_contracts import Contract, Table, normalise_header
from data_contracts.rules import trim_sql
from pipelines.ingest.csvfile import (
    LimitExceeded,
    UnreadableFile,
    drop_loaded,
    inspect_csv,
    keep_as_loaded,
    load_csv,
    record_texts,
)
from pipelines.ingest.limits import Limits
from pipelines.ingest.members import Member, decode_name, list_delivery, looks_like_archive
from pipelines.ingest.parsed import (
    ENCODING_LABEL,
    MAX_MANIFEST_BYTES,
    SEPARATOR_LABEL,
    Fault,
    ParsedDelivery,
    SourceTable,
    _Texts,
    printable,
    shown_name,
    table_for_name,
)


def parse_delivery(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: Contract,
    workdir: Path,
    limits: Limits | None = None,
) -> ParsedDelivery:
    """Read a delivery into temp tables; collect structural faults instead of raising.

    A limit exceeded stops reading at once (the delivery is quarantined in bounded time)."""
    limits = limits or Limits()
    if not limits.deadline:
        limits = limits.start()
    own_name, _ = decode_name(path.name)
    shown, label = shown_name(contract, own_name, "Lieferung")
    parsed = ParsedDelivery(source_name=shown, kind="other")
    texts = _Texts(con)
    if label:
        parsed.faults.append(
            Fault(
                f"{label} im Namen der Lieferung; der Name wird nicht wiedergegeben",
                identifier=True,
            )
        )
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        contents = list_delivery(path, workdir, limits)
        parsed.kind = contents.kind
        names = _member_names(contract, contents, parsed)
        for reason, index in contents.faults:
            parsed.faults.append(Fault(reason, file_name=names.get(index) if index else None))
        for index, comment in contents.comments:
            for line in comment.splitlines():
                texts.add("Archivkommentar", names.get(index) if index else None, None, line)
        for m in contents.members:
            limits.check_time()
            _add_member(con, m, names[m.index], contract, workdir, parsed, texts, limits)
    except LimitExceeded as exc:
        parsed.faults.append(Fault(f"Grenze überschritten: {exc.reason}", line=exc.line))
    texts.flush()
    parsed.text_count = texts.count
    if not parsed.tables and not parsed.faults:
        parsed.faults.append(
            Fault("Lieferung enthält keine Tabelle des Austauschformats (CSV oder XLSX)")
        )
    return parsed


def _member_names(contract: Contract, contents, parsed: ParsedDelivery) -> dict[int, str]:
    """What messages call each entry; an identifier in a name (or folder name) quarantines."""
    names: dict[int, str] = {}
    entries = [(m.index, m.rel, m.non_utf8) for m in contents.members]
    entries += [(i, rel, False) for i, rel in (*contents.specials, *contents.folders)]
    for index, rel, non_utf8 in entries:
        shown, label = shown_name(contract, rel, f"Datei {index}")
        names[index] = shown
        if label:
            parsed.faults.append(
                Fault(
                    f"{label} im Datei- oder Ordnernamen; der Name wird nicht wiedergegeben",
                    file_name=shown,
                    identifier=True,
                )
            )
        if non_utf8:
            parsed.notes.append(f"{shown}: Dateiname nicht UTF-8-kodiert, als Windows-1252 gelesen")
    return names


def _readable_path(m: Member, workdir: Path) -> Member:
    """A member whose name is not valid UTF-8 is read from a copy under a plain name (DuckDB
    and calamine take UTF-8 paths only)."""
    try:
        str(m.path).encode("utf-8")
        return m
    except UnicodeEncodeError:
        import shutil

        copy = workdir / f"datei-{m.index}{m.suffix if m.suffix.isascii() else ''}"
        shutil.copyfile(m.path, copy)
        return Member(m.rel, copy, m.size, m.index, m.non_utf8)


def _add_member(
    con, m: Member, shown: str, contract: Contract, workdir: Path, parsed, texts, limits
) -> None:
    m = _readable_path(m, workdir)
    suffix = m.suffix
    if m.is_os_metadata:
        _add_strings(m, shown, texts)
        parsed.notes.append(f"ignoriert: {shown} (Systemdatei)")
        return
    if m.name.lower() == "manifest.json":
        _read_manifest(m, shown, contract, parsed)
        return
    if suffix not in (".xlsx", ".xlsm") and looks_like_archive(m):
        parsed.faults.append(
            Fault(
                "Archiv in der Lieferung – verschachtelte Archive werden nicht entpackt",
                file_name=shown,
            )
        )
        return
    try:
        if suffix == ".csv":
            _add_csv(con, m, shown, contract, workdir, parsed, texts, limits)
        elif suffix in (".xlsx", ".xlsm"):
            _add_workbook(con, m, shown, contract, parsed, texts, limits)
        else:
            _add_other(m, shown, parsed, texts, limits)
            parsed.notes.append(f"ignoriert: {shown} (keine Tabellendatei)")
    except LimitExceeded as exc:
        raise LimitExceeded(f"{shown}: {exc.reason}", exc.line) from exc
    except UnreadableFile as exc:
        parsed.faults.append(Fault(exc.reason, file_name=shown, line=exc.line))


def _add_strings(m: Member, shown: str, texts: _Texts) -> None:
    """Printable strings (ASCII, UTF-8, UTF-16) of a binary metadata file (.DS_Store, ._x)."""
    data = m.path.read_bytes()
    found = [b.decode("utf-8", "replace") for b in re.findall(rb"[\x20-\x7e\x80-\xff]{4,}", data)]
    found += [
        b.decode("utf-16-le", "replace") for b in re.findall(rb"(?:[\x20-\x7e]\x00){4,}", data)
    ]
    found += [
        b.decode("utf-16-be", "replace") for b in re.findall(rb"(?:\x00[\x20-\x7e]){4,}", data)
    ]
    for s in found:
        texts.add("Systemdatei", shown, None, s)


def _add_other(m: Member, shown: str, parsed: ParsedDelivery, texts: _Texts, limits) -> None:
    """A file that is not read as a table: its text is checked for identifiers. A binary file
    cannot be checked and is a fault."""
    with open(m.path, "rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        raise UnreadableFile(
            "Datei ist weder Tabelle noch Text und kann nicht auf Identifikatoren geprüft werden"
            " (bitte nur Tabellen und Textdateien liefern)"
        )
    encoding = "utf-8"
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(m.path, "rb") as fh:
        try:
            while chunk := fh.read(8 * 1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "cp1252"
    line = 0
    with open(m.path, encoding=encoding, errors="replace", newline=None) as fh:
        for text in fh:
            line += 1
            if line % 10_000 == 0:
                limits.check_time()
            texts.add("Datei", shown, line, text.rstrip("\n"))


def _read_manifest(m: Member, shown: str, contract: Contract, parsed: ParsedDelivery) -> None:
    allowed = ", ".join(contract.manifest_keys)
    fault = f"manifest.json ist kein flaches JSON-Objekt der Felder {allowed}"
    if parsed.manifest_seen:
        parsed.faults.append(Fault("manifest.json ist mehrfach enthalten", file_name=shown))
        return
    parsed.manifest_seen = True
    if m.size > MAX_MANIFEST_BYTES:
        parsed.faults.append(Fault(f"{fault} (zu groß)", file_name=shown))
        return
    try:
        data = json.loads(m.path.read_bytes().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        parsed.faults.append(Fault(fault, file_name=shown))
        return
    if not isinstance(data, dict):
        parsed.faults.append(Fault(fault, file_name=shown))
        return
    for key, value in data.items():
        label = contract.find_identifier(str(key)) or (
            contract.find_identifier(str(value)) if isinstance(value, str | int | float) else None
        )
        if label:
            parsed.faults.append(
                Fault(
                    f"{label} in manifest.json gefunden; der Wert wird nicht wiedergegeben",
                    file_name=shown,
                    identifier=True,
                )
            )
            return
    unknown = [k for k in data if k not in contract.manifest_keys]
    nested = [k for k, v in data.items() if not isinstance(v, str | int | float | bool | None)]
    if unknown or nested:
        parsed.faults.append(Fault(fault, file_name=shown))
        return
    pid = data.get("provider_id")
    if pid not in (None, "") and not re.fullmatch(
        contract.patterns["key"]["regex"].strip("^$"), str(pid).strip()
    ):
        parsed.faults.append(
            Fault("manifest.json: provider_id ist kein gültiges Pseudonym", file_name=shown)
        )
        return
    parsed.manifest = data


def _check_headers(
    contract: Contract, header: list[str], file_name: str, table: str, parsed: ParsedDelivery
) -> list[str]:
    """Header cells checked for identifier values; returns the headers as messages may show
    them (a header carrying an identifier becomes "Spalte n")."""
    shown = []
    for i, h in enumerate(header, 1):
        label = contract.find_identifier(h)
        if label:
            parsed.faults.append(
                Fault(
                    f"{label} in der Kopfzeile (Spalte {i}) gefunden; der Wert wird nicht"
                    " wiedergegeben",
                    file_name=file_name,
                    table_name=table,
                    line=1,
                    column_name=f"Spalte {i}",
                    identifier=True,
                )
            )
            shown.append(f"Spalte {i}")
        else:
            shown.append(printable(h, 60))
    return shown


def _add_csv(
    con, m: Member, rel: str, contract: Contract, workdir: Path, parsed, texts, limits
) -> None:
    table = table_for_name(contract, m.name)
    if table is None:
        if m.size:
            parsed.faults.append(
                Fault(
                    "unbekannte Tabelle: Dateiname passt zu keiner Tabelle des Austauschformats",
                    file_name=rel,
                )
            )
            _add_other(m, rel, parsed, texts, limits)  # still checked for identifiers
        return
    if table.name in parsed.tables:
        parsed.faults.append(Fault(f"Tabelle {table.name} ist mehrfach enthalten", file_name=rel))
        _add_other(m, rel, parsed, texts, limits)  # a second copy is checked as well
        return
    target = f"raw_{table.name}"
    layout = inspect_csv(m.path, workdir, limits)
    with _interruptible(con, limits):
        scanned, malformed = load_csv(con, layout, f"{target}_cells", limits.max_line_bytes)
    bad = None
    if malformed:
        bad = f"{target}_bad"
        rows = record_texts(layout, [line for line, _ in malformed])
        bad_rows = pa.table(  # noqa: F841 - read by DuckDB (replacement scan)
            {
                "__line": pa.array([r[0] for r in rows], pa.int64()),
                "text": pa.array([r[1] for r in rows], pa.string()),
            }
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE {bad} AS SELECT * FROM bad_rows")
    detail = f"CSV {ENCODING_LABEL[layout.encoding]}, {SEPARATOR_LABEL[layout.separator]}"
    parsed.notes += [f"{rel}: {n}" for n in layout.notes]
    _map_columns(
        con,
        contract,
        table,
        rel,
        layout.header,
        f"{target}_cells",
        target,
        parsed,
        malformed,
        detail,
        scanned,
    )
    parsed.tables[table.name].bad_texts = bad


def _interruptible(con, limits):
    from pipelines.ingest.limits import watchdog

    return watchdog(con, limits)


def _add_workbook(con, m: Member, rel: str, contract: Contract, parsed, texts, limits) -> None:
    from pipelines.ingest.xlsxfile import check_workbook, read_sheets

    check = check_workbook(
        m.path, limits, show=lambda i, n: f"‚{shown_name(contract, n, f'Blatt {i}')[0]}‘"
    )
    for part, text in check.texts:
        place = "Dokumenteigenschaften" if part.startswith("docProps/") else "Arbeitsmappe"
        for line in text.splitlines():
            texts.add(place, rel, None, line)
    sheets = read_sheets(m.path)
    for i, (sheet, cells) in enumerate(sheets.items(), 1):
        limits.check_time()
        where, label = _sheet_shown(contract, rel, i, sheet)
        if label:
            parsed.faults.append(
                Fault(
                    f"{label} im Namen eines Tabellenblatts; der Name wird nicht wiedergegeben",
                    file_name=where,
                    identifier=True,
                )
            )
        nonempty = any(str(v).strip() for row in cells for v in row)
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
                _sheet_texts(cells, where, texts)
            continue
        if table.name in parsed.tables:
            parsed.faults.append(
                Fault(f"Tabelle {table.name} ist mehrfach enthalten", file_name=where)
            )
            _sheet_texts(cells, where, texts)
            continue
        if not cells:
            parsed.faults.append(Fault("Tabellenblatt ist leer", file_name=where))
            continue
        width = max(len(r) for r in cells)
        header = [_cell_text(v) or "" for v in cells[0]] + [""] * (width - len(cells[0]))
        columns = {
            f"c{i}": pa.array(
                [_cell_text(r[i]) if i < len(r) else None for r in cells[1:]], pa.string()
            )
            for i in range(width)
        }
        columns["__line"] = pa.array(range(2, len(cells) + 1), pa.int64())
        cells_tbl = f"raw_{table.name}_cells"
        drop_loaded(con, cells_tbl)
        keep_as_loaded(con, cells_tbl, "SELECT * FROM sheet", pa.table(columns))
        _map_columns(
            con,
            contract,
            table,
            where,
            header,
            cells_tbl,
            f"raw_{table.name}",
            parsed,
            [],
            "XLSX",
            len(cells) - 1,
        )


def _sheet_shown(contract: Contract, rel: str, index: int, sheet: str) -> tuple[str, str | None]:
    shown, label = shown_name(contract, sheet, f"Blatt {index}")
    return f"{rel}:{shown}", label


def _sheet_texts(cells, where: str, texts: _Texts) -> None:
    """Cells of a sheet that is not loaded are still checked for identifiers."""
    for r, row in enumerate(cells, 1):
        for v in row:
            t = _cell_text(v)
            if t:
                texts.add("Tabellenblatt", where, r, t)


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
    contract: Contract,
    table: Table,
    file_name: str,
    header: list[str],
    cells: str,
    target: str,
    parsed: ParsedDelivery,
    malformed,
    detail: str,
    rows: int | None = None,
) -> None:
    """Rename positional cells to contract columns; check the header for structural faults.
    `rows`: how many rows `cells` has, for the cheaper form of trimming (`rules.trim_sql`)."""
    lookup = table.header_lookup
    shown = _check_headers(contract, header, file_name, table.name, parsed)
    mapped: dict[str, str] = {}  # contract column -> cell column
    headers: dict[str, str] = {}
    extra: dict[str, str] = {}
    unnamed: list[str] = []
    unknown: list[str] = []
    for i, h in enumerate(header):
        cell = f"c{i}"
        if not h.strip():
            unnamed.append(cell)
            continue
        kind = contract.identifier_header_kind(h)
        if kind:
            parsed.faults.append(
                Fault(
                    f"Spaltenüberschrift in Spalte {i + 1} benennt einen direkten Identifikator"
                    f" ({kind})",
                    file_name=file_name,
                    table_name=table.name,
                    line=1,
                    column_name=f"Spalte {i + 1}",
                    identifier=True,
                )
            )
            extra[f"x{i}"] = f"Spalte {i + 1}"
            mapped[f"__x{i}"] = cell
            continue
        col = lookup.get(normalise_header(h))
        if col is None:
            extra[f"x{i}"] = shown[i]
            mapped[f"__x{i}"] = cell
            unknown.append(shown[i])
        elif col in mapped:
            parsed.faults.append(
                Fault(
                    f"Spalte {col} ist doppelt vorhanden (‚{headers[col]}‘ und ‚{shown[i]}‘)",
                    file_name=file_name,
                    table_name=table.name,
                    line=1,
                    column_name=shown[i],
                )
            )
        else:
            mapped[col] = cell
            headers[col] = shown[i]
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
            + " OR ".join(f"coalesce({trim_sql(c, rows)}, '') <> ''" for c in unnamed)
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
            # still scanned by the gate: an identifier there is reported as such
            for c in unnamed:
                xi = f"x{c[1:]}"
                extra[xi] = f"Spalte {int(c[1:]) + 1}"
                mapped[f"__{xi}"] = c
    select = [f"{cells}.__line AS __line"]
    for c in table.columns:
        select.append(
            f"{mapped[c.name]} AS {c.name}" if c.name in mapped else f"NULL::VARCHAR AS {c.name}"
        )
    for xcol in extra:
        select.append(f"{mapped['__' + xcol]} AS {xcol}")
    all_cells = [mapped[c] for c in mapped] or ["NULL"]
    not_empty = " OR ".join(f"coalesce({trim_sql(c, rows)}, '') <> ''" for c in all_cells)
    # no ORDER BY: a filter over the cells keeps their order (the file's), and nothing reads
    # this table's order anyway (lines are compared by `__line`, and what is shown by line is
    # sorted when it is written or read); sorting every row cost a third of this statement
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {', '.join(select)} FROM {cells}"
        f" WHERE {not_empty}"
    )
    drop_loaded(con, cells)
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
    if unknown:
        parsed.notes.append(f"{file_name}: unbekannte Spalten nicht geladen: {', '.join(unknown)}")
