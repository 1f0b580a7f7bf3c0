"""The data basis every view and report states (Datenstand, deliveries, k) and the choices the
filters offer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from dashboards.disclosure import Published
from dashboards.read.deliveries import trust_label
from dashboards.read.gate import query
from dashboards.read.grid import period_levels
from dashboards.read.scope import Filters, Source, Viewer, where
from transforms.delivery_calendar import calendar_summary, delivery_calendar


@dataclass
class DataBasis:
    as_of: date | None
    as_of_source: str | None
    providers: int
    deliveries: int
    built_at: object
    run_id: str | None
    delivery_list: pd.DataFrame = field(default_factory=pd.DataFrame)
    k: int = 3
    # issue 13: deliveries held back from the figures, and providers whose current snapshot is
    # older than the delivery calendar asks for (each row of delivery_list carries `trust`)
    held: pd.DataFrame = field(default_factory=pd.DataFrame)
    stale: pd.DataFrame = field(default_factory=pd.DataFrame)

    def text(self, suppressed_k: int | None) -> str:
        as_of = self.as_of.strftime("%d.%m.%Y") if self.as_of else "—"
        built = (
            pd.Timestamp(self.built_at).strftime("%d.%m.%Y %H:%M")
            if self.built_at is not None
            else "—"
        )
        source = {"argument": "vorgegeben", "lieferungen": "aus den Lieferungen"}.get(
            self.as_of_source or "", self.as_of_source or ""
        )
        sup = (
            f"Geheimhaltung (k = {suppressed_k}): Werte von 1 bis {suppressed_k - 1}, sekundär"
            " gesperrte und abgeleitete als „x“"
            if suppressed_k
            else f"ohne Geheimhaltung (interne Ansicht; für Veröffentlichungen k = {self.k})"
        )
        return (
            f"Datenstand {as_of} ({source}) · {self.deliveries} Lieferungen von"
            f" {self.providers} Trägern · aufbereitet am {built} · {sup}"
        )


# who sees the file names of deliveries (the office and a provider its own); evaluators and
# funders see delivery ids only (lineage.delivery_name, read/deliveries.py)
FILE_NAME_READERS = ("koordination", "traeger")


@query()
def data_basis(source: Source, viewer: Viewer, filters: Filters) -> DataBasis:
    """meta.data_basis plus the current deliveries the figures rest on (scoped to the role)."""
    with source.read() as con:
        row = con.execute(
            "SELECT as_of, as_of_source, providers, deliveries, built_at, run_id"
            " FROM meta.data_basis LIMIT 1"
        ).fetchone()
        cond, params = where(viewer, Filters())
        deliveries = con.execute(
            f"""SELECT delivery_id, provider_id, source_name, snapshot_on, status,
                       list_sort(current_tables) AS current_tables
                FROM audit.deliveries
                WHERE len(current_tables) > 0 AND {cond}
                ORDER BY provider_id, snapshot_on""",
            params,
        ).df()
        held = con.execute(
            f"""SELECT delivery_id, provider_id, source_name, snapshot_on FROM audit.deliveries
                WHERE status = 'held' AND {cond} ORDER BY provider_id, snapshot_on""",
            params,
        ).df()
        today = date.today()
        summary = calendar_summary(delivery_calendar(con, source.settings, today), today)
    if viewer.role not in FILE_NAME_READERS:  # a file name may say anything (read/deliveries.py)
        deliveries = deliveries.drop(columns=["source_name"])
        held = held.drop(columns=["source_name"])
    stale = summary.loc[
        summary["stale"] & summary["provider_id"].isin(deliveries["provider_id"]),
        ["provider_id", "current_snapshot_on", "last_due_period"],
    ].reset_index(drop=True)
    deliveries["trust"] = [
        trust_label(p in set(held["provider_id"]), p in set(stale["provider_id"]), 0)
        for p in deliveries["provider_id"]
    ]
    if row is None:
        row = (None, None, 0, 0, None, None)
    return DataBasis(
        as_of=row[0],
        as_of_source=row[1],
        providers=int(row[2] or 0),
        deliveries=int(row[3] or 0),
        built_at=row[4],
        run_id=row[5],
        delivery_list=deliveries.reset_index(drop=True),
        k=viewer.k,
        held=held,
        stale=stale,
    )


@query()
def filter_options(source: Source, viewer: Viewer, filters: Filters) -> dict[str, list]:
    """Periods, programs, regions and providers the viewer may choose from."""
    with source.read() as con:
        periods = con.execute("SELECT period, partial FROM mart.periods ORDER BY period").fetchall()
        cond, params = where(viewer, Filters())
        dims = con.execute(
            f"SELECT DISTINCT provider_id, program, region_code FROM mart.cases WHERE {cond}",
            params,
        ).df()
    levels = period_levels([p for p, _ in periods], [p for p, is_partial in periods if is_partial])
    return {
        "periods": levels["quarter"],
        "halves": levels["half"],
        "years": levels["year"],
        "partial": levels["partial"],
        "programs": sorted(dims["program"].dropna().unique().tolist()),
        "regions": sorted(dims["region_code"].dropna().unique().tolist()),
        "providers": sorted(dims["provider_id"].dropna().unique().tolist()),
    }


def with_trust(pub: Published, basis: DataBasis) -> Published:
    """Provider rows carry the status of the delivery under their figures (issue 13:
    aktuell / Lieferung zurückgehalten / veraltet), next to the provider; totals carry none."""
    if "provider_id" not in pub.table.columns or "trust" in pub.table.columns:
        return pub
    lst = basis.delivery_list
    status = dict(zip(lst["provider_id"], lst["trust"], strict=True)) if len(lst) else {}
    at = list(pub.table.columns).index("provider_id") + 1
    table, flags = pub.table.copy(), pub.flags.copy()
    table.insert(at, "trust", [status.get(p, "") for p in table["provider_id"]])
    flags.insert(at, "trust", "")
    return Published(table, flags, pub.k)
