"""Dagster asset and checks of the themes stage (the logic lives in pipelines/themes.py,
which stays free of Dagster so the command line and dashboards import it quickly)."""

import logging

import dagster as dg

from pipelines.observe import stage
from pipelines.resources import LagebildResource
from pipelines.themes import _has_table, build_themes, open_register

log = logging.getLogger("lagebild.themes")
THEMES_KEY = dg.AssetKey(["mart", "themes"])


@dg.asset(
    key=THEMES_KEY,
    group_name="themes",
    deps=[dg.AssetKey("staging"), dg.AssetKey(["mart", "cases"])],
    kinds={"duckdb", "python"},
    description=(
        "Generative Themen: kodierte Themen (Hürde × Lebensbereich) und Textthemen aus den"
        " anonymisierten Notizen, mit Trend, exemplarischen Fällen und Status aus dem"
        " Themenspeicher. Schreibt auch mart.theme_cases."
    ),
)
def mart_themes(lagebild: LagebildResource) -> dg.MaterializeResult:
    settings = lagebild.settings()
    with stage("themes"), lagebild.write() as con:
        summary = build_themes(con, settings)
    log.info(
        f"Generative Themen: {summary['coded_active']} kodierte und {summary['text_active']}"
        f" Textthemen aktiv, {summary['inactive']} inaktiv (Fenster {summary['window']})."
    )
    return dg.MaterializeResult(
        metadata={
            k: dg.MetadataValue.text(str(v)) if isinstance(v, str) else v
            for k, v in summary.items()
        }
    )


def _check_con(lagebild: LagebildResource):
    return lagebild.write()


@dg.asset_check(
    asset=THEMES_KEY,
    description="Jede Themen-ID genau einmal; alle Einträge des"
    " Themenspeichers sind in mart.themes.",
)
def themes_ids_unique(lagebild: LagebildResource) -> dg.AssetCheckResult:
    with _check_con(lagebild) as con:
        dupes = con.execute(
            "SELECT count(*) FROM (SELECT theme_id FROM mart.themes GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()[0]
        ids = {r[0] for r in con.execute("SELECT theme_id FROM mart.themes").fetchall()}
    with open_register(lagebild.ws) as rcon:
        registered = {r[0] for r in rcon.execute("SELECT theme_id FROM themes").fetchall()}
    missing = sorted(registered - ids)
    return dg.AssetCheckResult(
        passed=dupes == 0 and not missing,
        metadata={
            "duplicate_ids": dupes,
            "missing_from_mart": len(missing),
            "missing_examples": ", ".join(missing[:5]),
        },
    )


@dg.asset_check(
    asset=THEMES_KEY,
    description="Aktive Themen erfüllen die Schwellen (Fälle, Träger), inaktive nicht.",
)
def themes_thresholds(lagebild: LagebildResource) -> dg.AssetCheckResult:
    with _check_con(lagebild) as con:
        bad = con.execute(
            """SELECT count(*) FROM mart.themes
               WHERE active <> (cases >= min_cases AND providers >= min_providers)"""
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=bad == 0, metadata={"inconsistent_themes": bad})


@dg.asset_check(
    asset=THEMES_KEY,
    description="Exemplarische Fälle sind Fälle des Themas im"
    " Fenster und stehen in mart.cases; nur pseudonyme Schlüssel.",
)
def themes_exemplary_cases(lagebild: LagebildResource) -> dg.AssetCheckResult:
    n = lagebild.settings().theme_exemplary_cases
    with _check_con(lagebild) as con:
        too_many = con.execute(
            "SELECT count(*) FROM mart.themes WHERE len(exemplary_cases) > ?", [n]
        ).fetchone()[0]
        unknown = 0
        if _has_table(con, "mart", "cases"):
            unknown = con.execute(
                """SELECT count(*) FROM mart.theme_cases t
                   WHERE t.exemplary_rank IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM mart.cases c
                     WHERE c.provider_id = t.provider_id AND c.case_id = t.case_id)"""
            ).fetchone()[0]
    return dg.AssetCheckResult(
        passed=too_many == 0 and unknown == 0,
        metadata={"themes_with_too_many": too_many, "exemplary_not_in_mart_cases": unknown},
    )


@dg.asset_check(
    asset=THEMES_KEY,
    description="Datenschutz: Themen tragen nur einzelne Begriffe"
    " und pseudonyme Schlüssel, nie Notiztext.",
)
def themes_no_free_text(lagebild: LagebildResource) -> dg.AssetCheckResult:
    with _check_con(lagebild) as con:
        cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'mart' AND table_name IN ('themes', 'theme_cases')"
            ).fetchall()
        }
        bad_terms = con.execute(
            """SELECT count(*) FROM (SELECT unnest(terms) AS term FROM mart.themes)
               WHERE NOT regexp_full_match(term, '\\p{L}+') OR length(term) > 60"""
        ).fetchone()[0]
    text_cols = sorted(cols & {"note", "notiz", "notes", "text"})
    return dg.AssetCheckResult(
        passed=not text_cols and bad_terms == 0,
        metadata={"text_columns": ", ".join(text_cols), "terms_not_single_words": bad_terms},
    )
