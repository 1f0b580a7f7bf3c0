"""Dagster asset `reports`: the three reports for the last complete quarter up to as_of.

Writes WORKSPACE/reports/{lenkungsgruppe,evaluation,foerderer}_YYYY-Qn.{html,pdf,xlsx} from the
published copy (so it reads exactly what the dashboards show). Without Chromium the PDFs are
skipped with a warning; HTML and XLSX are always written.
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
    from dashboards.access import Viewer, data_basis, published_path
    from pipelines.reports import last_complete_quarter, write_all
    from pipelines.reports.content import ReportError

    ws = lagebild.ws
    skipped: list[str] = []

    def pdf_failed(path, exc) -> None:
        skipped.append(path.name)
        context.log.warning(f"PDF übersprungen ({path.name}): {exc}")

    with stage("reports"):
        basis = data_basis(published_path(ws.root), Viewer("koordination"))
        if basis.as_of is None:
            raise ReportError("Kein Datenstand in der veröffentlichten Kopie.")
        period = last_complete_quarter(basis.as_of)
        written = write_all(ws.root, period, on_pdf_error=pdf_failed)
    metadata = {
        "quartal": period,
        "datenstand": basis.as_of.isoformat(),
        "dateien": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in written)),
        "anzahl": len(written),
    }
    if skipped:
        metadata["übersprungen"] = ", ".join(skipped)
    return dg.MaterializeResult(metadata=metadata)
