"""Dagster assets for the marts: the SQL models of transforms/ and their asset checks.

One multi-asset builds every mart in a single DuckDB transaction (one consistent snapshot of
staging, one writer, about a second for the demo): each mart is its own asset key
`["mart", <name>]` in group "marts", downstream of the ingest's final asset `staging`, with
the lineage between marts read from the SQL. Every rule of transforms/checks.py is a blocking
asset check of its mart, so reports are never built on marts that contradict themselves.
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime

import dagster as dg

from kernel.warehouse import current_as_of
from pipelines.observe import timed_check, working
from pipelines.resources import LagebildResource
from transforms.checks import RULES, run_rule
from transforms.dictionary import load_mart_dictionary
from transforms.runner import build_marts, load_models, upstream_sources

STAGING = dg.AssetKey("staging")
GROUP = "marts"

_MODELS = load_models()
_MART_MODELS = [m for m in _MODELS if m.schema == "mart"]


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["mart", name])


def _mart_deps(model) -> list[dg.AssetKey]:
    """Other marts this mart reads (through intermediate models too), plus staging."""
    by_key = {m.key: m for m in _MODELS}
    marts, seen, stack = set(), set(), list(model.deps)
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        if key.startswith("mart."):
            marts.add(key.split(".", 1)[1])
        elif key in by_key:
            stack.extend(by_key[key].deps)
    deps = [mart_key(n) for n in sorted(marts)]
    if upstream_sources(model, _MODELS):
        deps.append(STAGING)
    return deps


def _spec(model) -> dg.AssetSpec:
    table = load_mart_dictionary()["tables"].get(model.name, {})
    return dg.AssetSpec(
        mart_key(model.name),
        deps=_mart_deps(model),
        description=f"{table.get('label', model.name)} — {model.description}",
        group_name=GROUP,
        kinds={"duckdb", "sql"},
        metadata={
            "grain": table.get("grain", ""),
            "sql": dg.MetadataValue.path(str(model.path)),
        },
    )


@dg.multi_asset(name="marts", specs=[_spec(m) for m in _MART_MODELS], can_subset=False)
def marts(context: dg.AssetExecutionContext, lagebild: LagebildResource):
    """Build all intermediate models and marts from staging, as of the run's data cut-off."""
    settings = lagebild.settings()
    with working("marts"), lagebild.write() as con:
        as_of = current_as_of(con)
        runs = build_marts(con, settings, as_of, on_plan=_grid_worker_if_whole)
    by_key = {r.key: r for r in runs}
    total = sum(r.seconds for r in runs)
    partial = {r.providers for r in runs if r.providers is not None}
    scope = (
        f"; fallbezogene Marts nur für {partial.pop()} geänderte Träger neu berechnet"
        if partial
        else ""
    )
    context.log.info(f"Marts gebaut zum Datenstand {as_of:%d.%m.%Y} in {total:.1f} s{scope}")
    for model in _MART_MODELS:
        run = by_key[model.key]
        yield dg.MaterializeResult(
            asset_key=mart_key(model.name),
            metadata={
                "rows": dg.MetadataValue.int(run.rows or 0),
                "seconds": dg.MetadataValue.float(round(run.seconds, 3)),
                "rebuilt_for": dg.MetadataValue.text(
                    "alle Träger"
                    if run.providers is None
                    else f"{run.providers} geänderte Träger (transforms.runner: partitioned)"
                ),
                "as_of": dg.MetadataValue.text(as_of.isoformat()),
            },
        )


def _grid_worker_if_whole(changed: list[str] | None) -> None:
    """A whole build (a first run, other SQL, many providers changed): most of the grid's
    families are suppressed anew, and its worker (pipelines.grid_worker, in a run started by
    `lagebild`) loads while the marts are built. A re-delivery's partial build keeps most of
    them from the memo: its worker would load beside the marts for one family (10,000 cases:
    the marts 0.5-0.6 -> 0.9-1.0 s, the grid 1.0 -> 0.85 s)."""
    from pipelines import grid_worker

    if changed is None:
        grid_worker.start()


_CHECK_SPECS = [
    dg.AssetCheckSpec(
        rule.name, asset=mart_key(rule.table), description=rule.description, blocking=rule.blocking
    )
    for rule in RULES
]


@dg.multi_asset_check(name="mart_checks", specs=_CHECK_SPECS)
@timed_check
def mart_checks(lagebild: LagebildResource):
    """Every consistency rule of transforms/checks.py, on one connection."""
    with lagebild.write() as con:
        for rule in RULES:
            outcome = run_rule(con, rule)
            yield dg.AssetCheckResult(
                asset_key=mart_key(rule.table),
                check_name=rule.name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata=outcome.metadata,
                description=rule.description,
            )
