"""Publication figures for `make bench`: the publication grid and its audit (issue 11), a
release of the steering-group report and its verification (issue 14)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb


def grid_audit(ws: Path) -> dict:
    """Cells, suppressions and the LP audit of the grid the last run published, how many of
    its families that run took unchanged from the run before (`publication.Memo`) and how
    many of those it took without reading their marts (same source key)."""
    con = duckdb.connect(str(ws / "published" / "lagebild.duckdb"), read_only=True)
    try:
        row = con.execute(
            """SELECT sum(cells), sum("primary"), sum(secondary), sum(cells_audited),
                      sum(unprotected), min(narrowest_width), sum(lp_solves), sum(seconds),
                      count(*) FILTER (WHERE reused), count(*),
                      count(*) FILTER (WHERE reused AND NOT queried)
               FROM grid.audit"""
        ).fetchone()
    finally:
        con.close()
    keys = ("cells", "primary", "secondary", "audited", "unprotected", "narrowest", "lp_solves")
    out = {k: (int(v) if v is not None else None) for k, v in zip(keys, row[:7], strict=True)}
    out["audit_s"] = round(float(row[7] or 0), 2)
    out["reused"], out["families"], out["unread"] = int(row[8]), int(row[9]), int(row[10])
    return out


def release_and_verify(ws: Path) -> dict:
    """Make a release of the steering-group report and verify it (rebuilds it from its
    deliveries in a temporary workspace)."""
    from dashboards.reports import default_period
    from dashboards.reports.release import make_release
    from pipelines.commands.release import verify

    period = default_period(ws)
    t0 = time.perf_counter()
    folder = make_release(ws, "lenkungsgruppe", period, note="make bench", user="bench")
    release_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in folder.iterdir())
    t0 = time.perf_counter()
    result = verify(ws, folder.name, progress=lambda _msg: None)
    return {
        "release_id": folder.name,
        "release_s": round(release_s, 1),
        "release_mb": round(size / 2**20, 1),
        "verify_s": round(time.perf_counter() - t0, 1),
        "identical": bool(result.identical),
    }


def markdown(results: list[dict]) -> list[str]:
    lines = [
        "",
        "## Publication grid, release and verification",
        "",
        "Grid: all cells of the publication grid with primary and secondary suppression; the",
        "audit solves, for every suppressed cell, the interval a reader can derive by linear",
        "programming from all published cells (narrowest interval ≥ k, k = 3 by default).",
        "Release: the steering-group report as HTML, PDF, XLSX and canonical cells with its",
        "manifest; verification rebuilds it from the deliveries its manifest names.",
        "",
        "Grid figures of the full run; „reused“: the families the re-delivery took unchanged",
        "from the run before (same leaves, settings and code: `publication.Memo`), „unread“",
        "of them without querying their marts (the marts' rows unchanged).",
        "",
        "| cases | grid stage | cells | suppressed (primary + secondary) | audited |"
        " narrowest interval | audit | reused | release | release size | verify | identical |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        g, rel = r.get("grid") or {}, r.get("release") or {}
        grid_s = r["full"]["stages"].get("grid", {}).get("s", "—")
        lines.append(
            f"| {r['cases']:,} | {grid_s} s | {g.get('cells', '—')} |"
            f" {g.get('primary', '—')} + {g.get('secondary', '—')} | {g.get('audited', '—')} |"
            f" {g.get('narrowest', '—')} | {g.get('audit_s', '—')} s | {_reused(g)} |"
            f" {rel.get('release_s', '—')} s | {rel.get('release_mb', '—')} MB |"
            f" {rel.get('verify_s', '—')} s | {rel.get('identical', '—')} |".replace(",", " ")
        )
    return lines


def _reused(g: dict) -> str:
    if "reused_in_redelivery" not in g:
        return "—"
    reused = f"{g['reused_in_redelivery']} of {g.get('families', '—')}"
    unread = g.get("unread_in_redelivery")
    return reused if unread is None else f"{reused} ({unread} unread)"
