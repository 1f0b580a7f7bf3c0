"""An export date the delivery's own rows contradict.

`manifest.json` says when a provider's tool exported the delivery; it orders the provider's
snapshots and the earliest current one is every provider's data cut-off (as_of). A date before
1950 or after the receipt is distrusted in `load._gate`; this one after the rows are typed
(`load.check_rows`): an export date before the newest event in the delivery's valid rows.
"""

from __future__ import annotations

# the dates a record gets when something happened: none can lie after the export that holds
# it (due dates, starts and staffing periods may be planned ahead)
EVENT_DATES = {
    "cases": ("opened_on", "closed_on"),
    "goals": ("set_on", "status_on"),
    "referrals": ("requested_on",),
    "contacts": ("contact_on",),
    "barriers": ("noted_on",),
    "relapses": ("event_on",),
}


def distrust_before_rows(con, insp) -> None:
    """`insp` (a `load.Inspection`): an export date before the newest event of its valid rows
    is not when it was exported (a tool's default such as 1990-01-01): the delivery is ordered
    by its receipt, and that date never becomes every provider's cut-off (review of
    2026-12-06)."""
    if not (insp.exported_on and insp.exported_on_trusted):
        return
    parts = [
        f"SELECT max({col}) AS d FROM checked_{table} WHERE len(faults) = 0"
        for table, cols in EVENT_DATES.items()
        if table in insp.parsed.tables
        for col in cols
    ]
    if not parts:
        return
    newest = con.execute(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})").fetchone()[0]
    if newest is not None and newest > insp.exported_on:
        insp.notes.append(
            f"Exportdatum {insp.exported_on:%d.%m.%Y} liegt vor dem jüngsten Datum der eigenen"
            f" Zeilen ({newest:%d.%m.%Y}) und wird nicht übernommen: die Lieferung ist nach"
            " ihrem Eingangsdatum eingeordnet. Bitte das Exportdatum in manifest.json prüfen"
        )
        insp.exported_on_trusted = False
