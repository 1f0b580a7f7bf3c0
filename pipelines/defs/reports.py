"""Dagster asset `reports`: the three reports for the last complete quarter up to as_of.

Writes WORKSPACE/reports/{lenkungsgruppe,evaluation,foerderer}_YYYY-Qn.{html,xlsx} from the
published copy through the read side (dashboards.reports), so it shows exactly what the
dashboards show. PDFs only when asked (`report_pdf`: `lagebild run --pdf`, lagebild.yaml,
`lagebild demo`): printing them is most of the step's time (issue 15, docs/decisions.md), and
the PDF is the HTML on paper. Without Chromium they are skipped with a warning. The period's
PDFs of an earlier run are removed before the reports are written: one not printed again (not
asked, or Chromium failed) would show older figures than the HTML beside it. Two of the three
reports are written in a helper process while this one writes the third
(pipelines.report_worker). Without data
(every delivery quarantined, or as_of before all data) there is nothing to report: the asset
says so and the run still completes.
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
        " (HTML offline und XLSX, PDF auf Wunsch) für das letzte vollständige Quartal bis zum"
        " Datenstand; statistische Geheimhaltung angewendet."
    ),
)
def reports(context, lagebild: LagebildResource) -> dg.MaterializeResult:
    from dashboards.reports import FORMATS, KINDS, default_period, report_file
    from pipelines import report_worker

    settings = lagebild.settings()
    ws = settings.ws
    skipped: list[str] = []

    def pdf_failed(path, exc) -> None:
        skipped.append(path.name)
        context.log.warning(f"PDF übersprungen ({path.name}): {exc}")

    with stage("reports"):
        period = default_period(ws.root)
        if period is None:
            context.log.info("Keine Daten: es wurden keine Berichte geschrieben.")
            return dg.MaterializeResult(metadata={"files": 0, "note": "keine Daten"})
        # the quarter's PDF goes first: not printed again (or a print that fails) must not
        # leave one with older figures than the HTML beside it, even if the run stops here
        removed = []
        for kind in KINDS:
            old = report_file(ws.reports_dir, kind, period, ".pdf")
            if old.is_symlink() or old.is_file():  # a dangling link too; never a folder
                old.unlink()
                removed.append(old.name)
        formats = FORMATS if settings.report_pdf else tuple(f for f in FORMATS if f != ".pdf")
        written, place = report_worker.write_reports(ws.root, period, formats, pdf_failed)
    if removed and not settings.report_pdf:
        context.log.info(
            f"Ältere PDF-Fassung entfernt ({', '.join(removed)}): sie zeigte einen früheren"
            " Stand. PDFs: lagebild run --pdf oder report_pdf: true in lagebild.yaml."
        )
    metadata = {
        "period": period,
        "files_written": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in written)),
        "files": len(written),
        "pdf": "gedruckt" if settings.report_pdf else "nicht angefordert",
        "written_by": place,  # where the evaluation and funders' reports were written
    }
    if skipped:
        metadata["pdf_skipped"] = ", ".join(skipped)
    return dg.MaterializeResult(metadata=metadata)
