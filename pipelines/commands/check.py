"""`lagebild check`: judge one delivery as a run would, without loading anything."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kernel.errors import UserError


def cli_check(args) -> int:
    """Validate one delivery without loading anything. Exit 0 = fehlerfrei, 1 = Zeilen würden
    abgelehnt, 3 = Quarantäne."""
    from kernel.warehouse import connect
    from pipelines.ingest.load import REJECTIONS_TMP, inspect_delivery, quarantine_rows

    path: Path = args.path
    if not os.path.lexists(path):
        raise UserError(f"Lieferung nicht gefunden: {path}")
    con = connect()
    with tempfile.TemporaryDirectory(prefix="lagebild-check-") as tmp:
        insp = inspect_delivery(con, path, Path(tmp))
        rows = con.execute(
            f"SELECT table_name, file_name, line, column_name, reason FROM {REJECTIONS_TMP}"
            " ORDER BY table_name, line"
        ).fetchall()
    kind = insp.parsed.format or insp.parsed.kind
    print(f"Prüfung der Lieferung {insp.parsed.source_name} ({kind})")
    print(f"Träger: {insp.provider_id or '—'} · Exportdatum: {insp.exported_on or '—'}")
    for note in insp.notes:
        print(f"Hinweis: {note}")
    if insp.quarantine:
        print("\nDie Lieferung käme vollständig in Quarantäne (keine Zeile würde geladen):")
        for _, file_name, line, _, reason, _ in quarantine_rows(insp):
            where = f"{file_name or '—'}" + (f", Zeile {line}" if line else "")
            print(f"  - {where}: {reason}")
        con.close()
        return 3
    print(f"\n{'Tabelle':<12}{'Datei':<28}{'erhalten':>10}{'gültig':>10}{'abgelehnt':>11}")
    for c in insp.counts.values():
        print(
            f"{c.table_name:<12}{c.file_name[:27]:<28}{c.received:>10}{c.loaded:>10}"
            f"{c.rejected:>11}"
        )
    shown = rows[:50]
    if rows:
        print(f"\nAbgelehnte Zeilen ({len(rows)}):")
        for _table, file_name, line, _, reason in shown:
            print(f"  - {file_name}, Zeile {line}: {reason}")
        if len(rows) > len(shown):
            print(f"  … und {len(rows) - len(shown)} weitere")
    gx = _check_with_suites(con, insp)
    con.close()
    if gx:
        print(f"\nGreat Expectations auf den gültigen Zeilen: {gx}")
    if rows:
        print(
            f"\nErgebnis: würde teilweise angenommen ({len(rows)} Zeilen abgelehnt)."
            " Es wurde nichts geladen."
        )
        return 1
    print("\nErgebnis: fehlerfrei, würde vollständig angenommen. Es wurde nichts geladen.")
    return 0


def _check_with_suites(con, insp) -> str:
    """Run the contract's GX suites on the rows that passed the row rules."""
    from data_contracts.suites import ephemeral_context, frames, frozen_heap, validate_frames

    context = ephemeral_context()
    results = []
    with frozen_heap():
        for name in insp.counts:
            table = insp.parsed.tables[name].table
            cols = ", ".join(table.column_names)
            sql = f"SELECT {cols}, NULL::VARCHAR AS delivery_id FROM checked_{name}"
            sql += " WHERE len(faults) = 0"
            results += validate_frames(context, table, frames(con, sql))
    return suite_summary(results)


def suite_summary(results) -> str:
    """One German line over the suites' results; a table of many rows comes in several."""
    if not results:
        return ""
    suites = {r.table: r.evaluated for r in results}
    failed: dict[str, dict[str, None]] = {}  # table -> violated expectations, in order
    for r in results:
        if r.failed:
            failed.setdefault(r.table, {}).update(dict.fromkeys(f["expectation"] for f in r.failed))
    if not failed:
        n = len(suites)
        return f"{n} Suite{'n' if n > 1 else ''}, {sum(suites.values())} Erwartungen, alle erfüllt"
    return f"{len(failed)} von {len(suites)} Suiten verletzt: " + "; ".join(
        f"{table}: {', '.join(names)}" for table, names in failed.items()
    )
