"""Dagster asset `reports`: the three reports for the last complete quarter up to as_of.

Writes WORKSPACE/reports/{lenkungsgruppe,evaluation,foerderer}_YYYY-Qn.{html,pdf,xlsx} from the
published copy through the read side (dashboards.reports), so it shows exactly what the
dashboards show. Without Chromium the PDFs are skipped with a warning; HTML and XLSX are always
written. Without data (every delivery quarantined, or as_of before all data) there is nothing
to report: the asset says so and the run still completes.
"""

from __future__ import annotations

import dagster as dg

from pipelines.observe import stage
from pipelines.resources import LagebildResource


@dg.asset(
    key="reports",
    group_name="reports",
    deps=[dg.AssetKey("published_warehouse")],
    kinds={"html", "pdf", "xlsx"},
    description=(
        "Lenkungsgruppenbericht, Evaluationsbericht und Fallzahlenstatistik für Fördergeber"
        " (HTML offline, PDF, XLSX) für das letzte vollständige Quartal bis zum Datenstand;"
        " statistische Geheimhaltung angewendet."
    ),
)
def reports(context, lagebild: LagebildResource) -> dg.MaterializeResult:
    from dashboards.reports import default_period, write_all

    ws = lagebild.ws
    skipped: list[str] = []

    def pdf_failed(path, exc) -> None:
        skipped.append(path.name)
        context.log.warning(f"PDF übersprungen ({path.name}): {exc}")

    with stage("reports"):
        period = default_period(ws.root)
        if period is None:
            context.log.info("Keine Daten: es wurden keine Berichte geschrieben.")
            return dg.MaterializeResult(metadata={"files": 0, "note": "keine Daten"})
        written = write_all(ws.root, period, on_pdf_error=pdf_failed)
    metadata = {
        "period": period,
        "files_written": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in written)),
        "files": len(written),
    }
    if skipped:
        metadata["pdf_skipped"] = ", ".join(skipped)
    return dg.MaterializeResult(metadata=metadata)
