"""`lagebild deliveries list|release|reject`: the delivery-quality loop on the command line.

Reads the published copy (never blocked by a run) and the decision log; a release or reject
is appended to the log and takes effect in the next run (docs/decisions.md)."""

from __future__ import annotations

import getpass

from dashboards.decide import decide_delivery
from dashboards.read.deliveries import deliveries, holds
from dashboards.read.scope import Source
from kernel.decisions import DecisionError
from kernel.errors import UserError


def _source(workspace) -> Source:
    source = Source.of(workspace)
    if not source.db.exists():
        raise UserError(
            f"Im Arbeitsbereich {source.workspace} gibt es noch keine Ergebnisse eines Laufs."
        )
    return source


def format_list(source: Source, status: str | None) -> str:
    viewer = source.viewer("koordination")
    df = deliveries(source, viewer)
    reasons = holds(source, viewer).set_index("delivery_id")
    raw = df["status"]
    if status:
        from dashboards.catalog import DELIVERY_STATUS_LABELS

        df = df[raw == DELIVERY_STATUS_LABELS.get(status, status)]
    if df.empty:
        return "Keine Lieferungen" + (f" mit Status {status}." if status else ".")
    lines = []
    for r in df.itertuples(index=False):
        lines.append(
            f"{r.delivery_id}  {r.provider_id or '—'}  {r.source_name}"
            f"  Stand {r.snapshot_on:%d.%m.%Y}  {r.status}"
        )
        if r.delivery_id in reasons.index:
            h = reasons.loc[r.delivery_id]
            lines.append(f"    Gründe: {h['reasons']}")
            lines.append(f"    Entscheidung: {h['decision']}")
    return "\n".join(lines)


def cli_deliveries(args) -> int:
    source = _source(args.workspace)
    if args.deliveries_command == "list":
        print(format_list(source, args.status))
        return 0
    try:
        message = decide_delivery(
            source,
            source.viewer("koordination"),
            args.delivery_id,
            args.deliveries_command,
            args.reason,
            getpass.getuser(),
            via="kommandozeile",
        )
    except DecisionError as exc:
        raise UserError(str(exc)) from exc
    print(message)
    return 0


def held_summary(workspace) -> str:
    """What the demo (or a run) leaves to decide: each held delivery, why, and the command."""
    source = Source.of(workspace)
    if not source.db.exists():
        return ""
    df = holds(source, source.viewer("koordination"))
    df = df[df["status"] == "zurückgehalten"]
    if df.empty:
        return ""
    lines = [
        "",
        "Zurückgehaltene Lieferungen (Importschwellen; die Zahlen beruhen auf dem vorigen Stand):",
    ]
    for r in df.itertuples(index=False):
        lines.append(f"  {r.source_name} (Träger {r.provider_id}): {r.reasons}")
        lines.append(
            f'    freigeben: lagebild deliveries release {r.delivery_id} --reason "…"'
            f" --workspace {source.workspace}"
        )
        lines.append(
            f'    verwerfen: lagebild deliveries reject {r.delivery_id} --reason "…"'
            f" --workspace {source.workspace}"
        )
    lines.append("  Eine Entscheidung wirkt im nächsten Lauf (lagebild run oder lagebild demo).")
    return "\n".join(lines)
