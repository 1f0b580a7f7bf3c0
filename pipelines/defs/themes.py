"""Dagster asset and checks of the themes stage. The logic lives in transforms/themes/ (build,
register, read); the checks are the theme rules of transforms/checks.py."""

import logging

import dagster as dg

from pipelines.observe import stage, timed_check
from pipelines.resources import LagebildResource
from transforms.checks import THEME_RULES, run_rule
from transforms.themes.build import build_themes
from transforms.themes.store import open_register

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
        f" Textthemen aktiv, {summary['inactive']} inaktiv (Fenster {summary['window']})"
        + (
            "; Textmodell übernommen (Notiztexte unverändert)."
            if summary["text_model"] == "übernommen"
            else "."
        )
    )
    return dg.MaterializeResult(
        metadata={
            k: dg.MetadataValue.text(str(v)) if isinstance(v, str) else v
            for k, v in summary.items()
        }
    )


@dg.multi_asset_check(
    name="theme_checks",
    specs=[
        dg.AssetCheckSpec(rule.name, asset=THEMES_KEY, description=rule.description)
        for rule in THEME_RULES
    ],
)
@timed_check
def theme_checks(lagebild: LagebildResource):
    """Every theme rule of transforms/checks.py, on one connection (and the register's)."""
    with lagebild.write() as con, open_register(lagebild.ws) as register:
        for rule in THEME_RULES:
            outcome = run_rule(con, rule, register=register)
            yield dg.AssetCheckResult(
                asset_key=THEMES_KEY,
                check_name=rule.name,
                passed=outcome.passed,
                metadata=outcome.metadata,
                description=rule.description,
            )
