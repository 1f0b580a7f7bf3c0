"""`generate_inbox`: one delivery per provider in its export format, plus the planted faults."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from generator.dataset import TABLES, Dataset, build_dataset
from generator.ids import hex_ids, mix32
from generator.providers import FORMAT_LABELS, ProviderSpec
from generator.writers import (
    RELAPSES_WHEN_EMPTY,
    STYLES,
    XLSX_MAX_CELLS,
    XLSX_STYLE,
    Style,
    file_name,
    render_strings,
    set_mtime,
    write_csv,
    write_manifest,
    write_xlsx,
    zip_folder,
)

OLDER_SNAPSHOT_DAYS = 92  # the superseded snapshot was taken one quarter earlier
REDELIVERY_DAYS = 5  # the quarantined re-delivery comes a few days after the export date
HELD_DAYS = 7  # the held re-delivery (open cases only) a week after the export date
LEAKED_EMAIL = "m.yilmaz@beispiel-mail.de"

STATUS_LABELS = {
    "accepted": "angenommen",
    "partial": "teilweise angenommen",
    "quarantined": "Quarantäne",
    "superseded": "ersetzt",
    "duplicate": "Duplikat",
    "held": "zurückgehalten (Importschwelle)",
}


@dataclass
class PlantedFault:
    table: str
    line: int | None  # physical line in the CSV (header = line 1); None for xlsx/whole delivery
    column: str | None
    kind: str  # bad_date, unknown_code, closed_before_opened, fte_out_of_range, duplicate_key,
    #            orphan_goal, missing_required, identifier_email
    description: str  # German


@dataclass
class DeliverySummary:
    name: str  # entry in the inbox (folder, .zip or .xlsx)
    provider_id: str
    format: str  # a..e or plain (see providers.FORMAT_LABELS)
    exported_on: date
    manifest: bool
    rows: dict[str, int]  # data rows written per table (absent tables missing)
    planted: list[str] = field(default_factory=list)  # German notes on what this delivery shows
    faults: list[PlantedFault] = field(default_factory=list)
    # accepted | partial | quarantined | superseded | duplicate | held
    expected_status: str = "accepted"

    @property
    def format_label(self) -> str:
        return FORMAT_LABELS[self.format]


@dataclass
class GenerationSummary:
    out: Path
    cases: int
    seed: int
    exported_on: date
    years: float
    plain: bool
    with_faults: bool
    providers: list[dict]  # provider_id, programs, regions, format, overloaded, ...
    deliveries: list[DeliverySummary]
    seconds: float
    bytes_written: int

    @property
    def current_deliveries(self) -> list[DeliverySummary]:
        """The deliveries that should end up current (one per provider)."""
        return [d for d in self.deliveries if d.expected_status in ("accepted", "partial")]

    def rows_per_table(self) -> dict[str, int]:
        total = dict.fromkeys(TABLES, 0)
        for d in self.current_deliveries:
            for t, n in d.rows.items():
                total[t] += n
        return total

    def delivery(self, name: str) -> DeliverySummary:
        return next(d for d in self.deliveries if d.name == name)

    def text(self) -> str:
        """Short German summary for the command line."""
        rows = " · ".join(f"{t} {_n(n)}" for t, n in self.rows_per_table().items())
        size, secs = _mb(self.bytes_written), _de(self.seconds, 1)
        lines = [
            f"{len(self.deliveries)} Lieferungen in {self.out} geschrieben ({size}, {secs} s).",
            f"Fälle: {_n(self.cases)} bei {len(self.providers)} Trägern (Seed {self.seed}, "
            f"Exportdatum {self.exported_on:%d.%m.%Y}, {_de(self.years, 1)} Jahre Fallgeschichte).",
            f"Zeilen je Tabelle (aktuelle Lieferungen): {rows}",
            "Lieferungen:",
        ]
        width = max(len(d.name) for d in self.deliveries)
        for d in self.deliveries:
            extra = f" – {'; '.join(f.description for f in d.faults)}" if d.faults else ""
            status = STATUS_LABELS[d.expected_status]
            lines.append(f"  {d.name:<{width}}  {d.format:<5}  erwartet: {status}{extra}")
        return "\n".join(lines)


def _n(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _de(x: float, digits: int) -> str:
    return f"{x:.{digits}f}".replace(".", ",")


def _mb(b: int) -> str:
    return f"{_de(b / 1e6, 1)} MB"


# --- the delivery writer -----------------------------------------------------------------


def _columns_for(spec: ProviderSpec, name: str, data: pa.Table) -> pa.Table:
    """Leave out the optional columns this provider's software does not export."""
    if spec.variant == "plain":
        return data
    drop = []
    if name == "cases":
        if spec.omit_person_key:
            drop.append("person_key")
        if not spec.has_pcve and spec.variant in ("a", "c", "e"):
            drop += ["risk_level", "phenomenon"]
    return data.drop_columns(drop) if drop else data


def _entry_name(spec: ProviderSpec, day: date) -> str:
    return f"{spec.provider_id}_{day:%Y%m%d}"


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def write_delivery(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    spec: ProviderSpec,
    tables: dict[str, pa.Table],
    day: date,
    rendered: dict[str, tuple[pa.Table, list[str]]] | None = None,
    name: str | None = None,
) -> DeliverySummary:
    """Write one provider's tables in its format. `rendered`: tables whose cells were rendered and
    edited already (table -> (string cells, contract column names))."""
    rendered = rendered or {}
    variant = spec.variant
    planted: list[str] = []
    tables = {t: _columns_for(spec, t, d) for t, d in tables.items()}
    if (
        not spec.has_pcve
        and tables["relapses"].num_rows == 0
        and RELAPSES_WHEN_EMPTY[variant] == "absent"
    ):
        tables.pop("relapses")
        rendered.pop("relapses", None)
    if variant == "c":
        cells = sum(d.num_rows * d.num_columns for d in tables.values())
        if cells > XLSX_MAX_CELLS or rendered:
            variant = "d"
            planted.append("als ZIP statt XLSX geschrieben (zu groß für eine Excel-Arbeitsmappe)")
    stem = name or _entry_name(spec, day)
    rows: dict[str, int] = {}
    if variant == "c":
        path = out / f"{stem}.xlsx"
        _remove(path)
        rows = write_xlsx(path, tables, day)
        set_mtime(path, day)
        entry = path.name
    else:
        style: Style = STYLES[variant]
        folder = out / (f".tmp-{stem}" if variant == "d" else stem)
        _remove(folder)
        folder.mkdir(parents=True)
        for t, data in tables.items():
            target = folder / file_name(t, style)
            if t in rendered:
                cells, cols = rendered[t]
                rows[t] = write_csv(con, target, t, cells, style, columns=cols)
            else:
                rows[t] = write_csv(con, target, t, data, style)
        if spec.manifest:
            write_manifest(folder / "manifest.json", spec.provider_id, day, spec.software)
        if variant == "d":
            target = out / f"{stem}.zip"
            _remove(target)
            zip_folder(folder, target, day)
            shutil.rmtree(folder)
            set_mtime(target, day)
            entry = target.name
        else:
            set_mtime(folder, day)
            entry = folder.name
    return DeliverySummary(
        name=entry,
        provider_id=spec.provider_id,
        format=variant,
        exported_on=day,
        manifest=spec.manifest and variant != "c",
        rows=rows,
        planted=planted,
    )


# --- planted faults ----------------------------------------------------------------------


def _fmt_date(d: date, style: Style) -> str:
    return d.strftime("%d.%m.%Y" if style.dates == "de" else "%Y-%m-%d")


def _physical_line(cells: pd.DataFrame, row: int) -> int:
    """Line number (header = 1) of data row `row`, counting line breaks inside quoted fields."""
    before = cells.iloc[:row]
    breaks = sum(int(before[c].fillna("").str.count("\n").sum()) for c in before.columns)
    return row + 2 + breaks


def plant_row_faults(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    spec: ProviderSpec,
    tables: dict[str, pa.Table],
    style: Style,
) -> tuple[dict[str, tuple[pa.Table, list[str]]], list[PlantedFault]]:
    """A handful of faulty rows in an otherwise clean delivery (each is rejected alone).

    The rows are inserted into the rendered cells of cases, staffing and goals; every fault is
    recorded with its physical line in the file (header = line 1)."""
    faults: list[PlantedFault] = []
    rendered: dict[str, tuple[pa.Table, list[str]]] = {}
    key = ds.seed * 7919 + 13
    fresh = np.arange(len(ds.cases) + 11, len(ds.cases) + 16, dtype=np.uint64)
    new_ids = hex_ids("F-", mix32(fresh, key), 8).to_pylist()  # never an existing case id
    trail = ["_trail"] if style.trailing_empty else []

    def cells_of(name: str, data: pa.Table) -> tuple[pd.DataFrame, list[str]]:
        cells = render_strings(con, name, data, style).to_pandas()
        cells.columns = data.column_names + trail
        return cells, data.column_names

    def insert(name: str, cells: pd.DataFrame, cols: list[str], rows: list[tuple]) -> None:
        """rows: (position in the original, row dict, column, kind, German text)."""
        pieces, pos, placed = [], 0, []
        for offset, (at, row, column, kind, text) in enumerate(sorted(rows, key=lambda r: r[0])):
            pieces.append(cells.iloc[pos:at])
            pieces.append(pd.DataFrame([row], columns=cells.columns))
            placed.append((at + offset, column, kind, text))
            pos = at
        pieces.append(cells.iloc[pos:])
        cells = pd.concat(pieces, ignore_index=True)
        for row, column, kind, text in placed:
            faults.append(PlantedFault(name, _physical_line(cells, row), column, kind, text))
        rendered[name] = (_to_arrow(cells), cols)

    cells, cols = cells_of("cases", _columns_for(spec, "cases", tables["cases"]))
    n = len(cells)
    if n:
        template = cells.iloc[n // 3]
        bad_value = "31.02.2024" if style.dates == "de" else "2024-02-31"
        opened = date(2025, 3, 12)

        def variant(**changes: str | None) -> dict:
            row = template.to_dict()
            row.update(changes)
            return row

        dup = cells.iloc[max(n // 2 - 1, 0)].to_dict()
        insert(
            "cases",
            cells,
            cols,
            [
                (
                    n // 6,
                    variant(
                        case_id=new_ids[0], opened_on=bad_value, closed_on=None, close_reason=None
                    ),
                    "opened_on",
                    "bad_date",
                    f"ungültiges Datum {bad_value} in beginn",
                ),
                (
                    2 * n // 6,
                    variant(case_id=new_ids[1], intensity="intensiv"),
                    "intensity",
                    "unknown_code",
                    "unbekannter Code 'intensiv' in intensitaet",
                ),
                (
                    3 * n // 6,
                    variant(
                        case_id=new_ids[2],
                        opened_on=_fmt_date(opened, style),
                        closed_on=_fmt_date(opened - timedelta(days=45), style),
                        close_reason="ziel_erreicht",
                    ),
                    "closed_on",
                    "closed_before_opened",
                    "Ende vor Beginn",
                ),
                (
                    4 * n // 6,
                    variant(case_id=new_ids[3], program=None),
                    "program",
                    "missing_required",
                    "Pflichtwert programm fehlt",
                ),
                (5 * n // 6, dup, "case_id", "duplicate_key", f"Fall-ID {dup['case_id']} doppelt"),
            ],
        )

    cells, cols = cells_of("staffing", tables["staffing"])
    if len(cells):
        row = cells.iloc[len(cells) // 2].to_dict()
        row.update(
            valid_from=_fmt_date(ds.exported_on - timedelta(days=40), style),
            valid_to=None,
            fte="1,5" if style.decimal == "," else "1.5",
        )
        insert(
            "staffing",
            cells,
            cols,
            [
                (
                    len(cells) // 2 + 1,
                    row,
                    "fte",
                    "fte_out_of_range",
                    "VZÄ 1,5 außerhalb von 0 < VZÄ ≤ 1",
                )
            ],
        )

    cells, cols = cells_of("goals", tables["goals"])
    if len(cells):
        row = cells.iloc[0].to_dict()
        row.update(case_id=new_ids[4], goal_id="Z1")
        insert(
            "goals",
            cells,
            cols,
            [
                (
                    min(len(cells), 7),
                    row,
                    "case_id",
                    "orphan_goal",
                    f"Ziel zu unbekanntem Fall {new_ids[4]}",
                )
            ],
        )
    return rendered, faults


def _to_arrow(cells: pd.DataFrame) -> pa.Table:
    cells = cells.astype(object).where(cells.notna(), None)
    return pa.table(
        {
            f"c{i}": pa.array(cells[c].tolist(), type=pa.string())
            for i, c in enumerate(cells.columns)
        }
    )


def plant_identifier(
    ds: Dataset, tables: dict[str, pa.Table]
) -> tuple[dict[str, pa.Table], PlantedFault]:
    """An e-mail address in one barrier note (the whole delivery must go to quarantine); a
    `nachname` column in the cases instead when the provider has no note to put it in."""
    barriers = tables["barriers"]
    notes = barriers.column("note").to_pylist()
    candidates = [i for i, x in enumerate(notes) if x and "\n" not in x]
    if not candidates:
        cases = tables["cases"]
        names = ["Yilmaz" if i == 0 else None for i in range(cases.num_rows)]
        cases = cases.append_column("nachname", pa.array(names, type=pa.string()))
        fault = PlantedFault(
            "cases", None, "nachname", "identifier_header", "Spalte nachname (Identifikator)"
        )
        return {**tables, "cases": cases}, fault
    i = candidates[len(candidates) // 2]
    notes[i] = f"{notes[i]} Rückmeldung der Klientin bitte an {LEAKED_EMAIL}"
    breaks = sum(x.count("\n") for x in notes[:i] if x)
    fixed = barriers.set_column(
        barriers.column_names.index("note"), "note", pa.array(notes, type=pa.string())
    )
    fault = PlantedFault(
        "barriers",
        i + 2 + breaks,
        "note",
        "identifier_email",
        "E-Mail-Adresse in einer Notiz (Identifikator)",
    )
    return {**tables, "barriers": fixed}, fault


# --- the inbox ---------------------------------------------------------------------------


def _fault_plan(providers: list[ProviderSpec], case_counts: np.ndarray) -> dict[str, int]:
    """Which provider carries which planted fault (distinct providers where possible; never the
    Excel provider, never one with hardly any cases)."""
    usable = [p.index for p in providers if p.variant != "c" and case_counts[p.index] >= 20]
    if not usable:
        usable = [int(np.argmax(case_counts))]
    chosen: dict[str, int] = {}

    def pick(preferred: int) -> int:
        order = [preferred] + [i for i in usable if i != preferred]
        for i in order:
            if i in usable and i not in chosen.values():
                return i
        return order[0] if order[0] in usable else usable[0]

    chosen["row_faults"] = pick(5)
    chosen["identifier"] = pick(1)
    chosen["older_snapshot"] = pick(2)
    chosen["held"] = pick(3)
    return chosen


def generate_inbox(
    out: Path,
    cases: int,
    providers: int,
    seed: int = 1,
    exported_on: date = date(2026, 10, 15),
    years: float = 4.0,
    with_faults: bool = False,
    plain: bool = False,
) -> GenerationSummary:
    """Write synthetic deliveries of `providers` providers with `cases` cases in total into `out`.

    Deterministic: the same arguments give byte-identical files with the same modification
    times. Existing entries of the same names are replaced; other entries in `out` are left alone.
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = build_dataset(
        cases, providers, seed=seed, exported_on=exported_on, years=years, plain=plain
    )
    con = duckdb.connect()
    con.execute(
        "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false;"
        " SET preserve_insertion_order = true;"
    )
    counts = np.bincount(ds.cases.provider, minlength=len(ds.providers))
    plan = _fault_plan(ds.providers, counts) if with_faults else {}
    deliveries: list[DeliverySummary] = []
    try:
        for spec in ds.providers:
            tables = ds.provider_tables(spec.index)
            rendered = None
            faults: list[PlantedFault] = []
            if plan.get("row_faults") == spec.index:
                style = STYLES.get(spec.variant, XLSX_STYLE)
                rendered, faults = plant_row_faults(con, ds, spec, tables, style)
            d = write_delivery(con, out, spec, tables, exported_on, rendered)
            d.planted += _peculiarities(ds, spec)
            if faults:
                d.faults = faults
                d.expected_status = "partial"
                d.planted.append("Zeilenfehler: " + "; ".join(f.description for f in faults))
            deliveries.append(d)
        if with_faults:
            deliveries += _extra_deliveries(con, ds, out, plan, deliveries)
    finally:
        con.close()
    size = sum(_size(out / d.name) for d in deliveries)
    return GenerationSummary(
        out=out,
        cases=len(ds.cases),
        seed=seed,
        exported_on=exported_on,
        years=years,
        plain=plain,
        with_faults=with_faults,
        providers=[
            {
                "provider_id": p.provider_id,
                "programs": list(p.programs),
                "regions": list(p.regions),
                "format": p.variant,
                "manifest": p.manifest,
                "software": p.software,
                "overloaded": p.overloaded,
                "local_text_topic": p.rural_topic,
                "unstaffed_groups": [(g.program, g.region) for g in p.groups if not g.staffed],
            }
            for p in ds.providers
        ],
        deliveries=deliveries,
        seconds=time.perf_counter() - t0,
        bytes_written=size,
    )


def _extra_deliveries(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    out: Path,
    plan: dict[str, int],
    main: list[DeliverySummary],
) -> list[DeliverySummary]:
    extra: list[DeliverySummary] = []
    # (2) a newer re-delivery with an identifier: quarantined, the previous delivery stays current
    spec = ds.providers[plan["identifier"]]
    later = ds.exported_on + timedelta(days=REDELIVERY_DAYS)
    tables, fault = plant_identifier(ds, ds.provider_tables(spec.index))
    d = write_delivery(con, out, spec, tables, later)
    if d.format == "c":
        fault.line = None
    d.faults = [fault]
    d.expected_status = "quarantined"
    d.planted.append(
        "neuere Lieferung mit E-Mail-Adresse in einer Notiz: Quarantäne, die vorherige "
        "Lieferung bleibt aktuell"
    )
    extra.append(d)
    # (3) an older snapshot of a third provider, superseded by its current delivery
    spec = ds.providers[plan["older_snapshot"]]
    earlier = ds.exported_on - timedelta(days=OLDER_SNAPSHOT_DAYS)
    d = write_delivery(
        con,
        out,
        spec,
        ds.provider_tables(spec.index, cut=ds.exported - OLDER_SNAPSHOT_DAYS),
        earlier,
    )
    d.expected_status = "superseded"
    d.planted.append(
        f"älterer Stand vom {earlier:%d.%m.%Y} (weniger Fälle), durch die Lieferung vom "
        f"{ds.exported_on:%d.%m.%Y} ersetzt"
    )
    extra.append(d)
    # (5) a later snapshot with the open cases only (an export filter set wrong): beyond the
    # import thresholds, held until koordination releases or rejects it (issue 13)
    spec = ds.providers[plan["held"]]
    d = write_delivery(
        con, out, spec, _open_cases_only(ds.provider_tables(spec.index)),
        ds.exported_on + timedelta(days=HELD_DAYS),
    )  # fmt: skip
    d.expected_status = "held"
    d.planted.append(
        "spätere Lieferung nur mit den offenen Fällen (Exportfilter falsch gesetzt): "
        "abgeschlossene Fälle fehlen, Zeilenzahl bricht ein – zurückgehalten, der vorige Stand "
        "bleibt aktuell, bis die Koordination freigibt oder verwirft"
    )
    extra.append(d)
    # (4) the same bytes once more under another name
    source = next((m for m in main if m.name.endswith(".zip")), None) or main[0]
    src_path = out / source.name
    if source.name.endswith(".zip"):
        copy_name = source.name[: -len(".zip")] + "_kopie.zip"
        _remove(out / copy_name)
        shutil.copyfile(src_path, out / copy_name)
    else:
        copy_name = source.name + "_kopie"
        _remove(out / copy_name)
        shutil.copytree(src_path, out / copy_name)
    set_mtime(out / copy_name, source.exported_on)
    extra.append(
        DeliverySummary(
            name=copy_name,
            provider_id=source.provider_id,
            format=source.format,
            exported_on=source.exported_on,
            manifest=source.manifest,
            rows=dict(source.rows),
            expected_status="duplicate",
            planted=[f"bytegleiche Kopie von {source.name}"],
        )
    )
    return extra


def _open_cases_only(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    import pyarrow.compute as pc

    cases = tables["cases"].filter(pc.is_null(tables["cases"]["closed_on"]))
    keep = cases["case_id"]
    out = {"cases": cases}
    for name, data in tables.items():
        if name != "cases":
            has_case = "case_id" in data.column_names
            out[name] = data.filter(pc.is_in(data["case_id"], keep)) if has_case else data
    return out


def _peculiarities(ds: Dataset, spec: ProviderSpec) -> list[str]:
    notes = [FORMAT_LABELS[spec.variant]]
    if spec.overloaded:
        notes.append("überlastet: etwa 80 Fälle je VZÄ")
    for g in spec.groups:
        if not g.staffed:
            notes.append(f"Fälle ohne Stellen in ({g.program}, {g.region}): Datenlücke")
    if spec.rural_topic:
        notes.append(
            "lokale Themen: Fahrtkosten/Busanbindung (Text), (kosten, bildung_schule) (Code)"
        )
    if spec.omit_person_key:
        notes.append("ohne Personen-Pseudonym")
    if not spec.manifest:
        notes.append("ohne manifest.json: Exportdatum = Änderungsdatum der Dateien")
    return notes


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0
