"""`lagebild themes list|set`: the theme register on the command line."""

from __future__ import annotations

import getpass
from datetime import date

import pandas as pd

from kernel.errors import UserError
from kernel.settings import load_settings
from kernel.warehouse import WorkspaceBusy
from kernel.workspace import Workspace
from transforms.themes.read import list_themes
from transforms.themes.register import STATUS_LABELS, UnknownTheme
from transforms.themes.store import set_theme_status, workspace_of


def _fmt_table(headers: list[str], rows: list[list[str]], widths: dict[int, int]) -> str:
    cut = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cell = "" if cell is None else str(cell)
            w = widths.get(i)
            if w and len(cell) > w:
                cell = cell[: w - 1] + "…"
            cells.append(cell)
        cut.append(cells)
    sizes = [max([len(h)] + [len(r[i]) for r in cut]) for i, h in enumerate(headers)]
    numeric = {i for i, h in enumerate(headers) if h in ("Fälle", "Träger", "Regionen")}

    def line(cells):
        return "  ".join(
            c.rjust(sizes[i]) if i in numeric else c.ljust(sizes[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [line(headers), "  ".join("-" * s for s in sizes)]
    out += [line(r) for r in cut]
    return "\n".join(out)


def format_theme_list(df: pd.DataFrame, show_inactive_marker: bool = True) -> str:
    headers = [
        "ID",
        "Art",
        "Bezeichnung",
        "Fälle",
        "Träger",
        "Regionen",
        "Trend",
        "Status",
        "Gremium",
    ]
    rows = []
    for r in df.itertuples(index=False):
        status = r.status_label
        if show_inactive_marker and not r.active:
            status = f"{status} (inaktiv)"
        rows.append(
            [
                r.theme_id,
                r.kind_label,
                r.label,
                r.cases,
                r.providers,
                r.regions,
                r.trend_label,
                status,
                r.owner if isinstance(r.owner, str) else "–",
            ]
        )
    return _fmt_table(headers, rows, widths={2: 48})  # ids never cut: they are typed in


def _date_de(value) -> str:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return "–"
    return pd.Timestamp(value).strftime("%d.%m.%Y")


def cli_themes(args) -> int:
    ws = workspace_of(args.workspace)
    if not ws.root.exists():
        raise UserError(f"Den Arbeitsbereich {ws.root} gibt es nicht.")
    try:
        if args.themes_command == "list":
            return _cli_list(ws, include_inactive=bool(getattr(args, "all", False)))
        if args.themes_command == "set":
            return _cli_set(ws, args)
    except UnknownTheme as exc:
        raise UserError(str(exc)) from exc
    except WorkspaceBusy as exc:
        raise UserError(str(exc)) from exc
    raise UserError(f"Unbekannte Aktion '{args.themes_command}'.")


def _cli_list(ws: Workspace, include_inactive: bool) -> int:
    df_all = list_themes(ws, include_inactive=True)
    if df_all.empty:
        print(
            "Noch keine generativen Themen. Bitte zuerst `lagebild run` (oder `lagebild demo`)"
            " für diesen Arbeitsbereich ausführen."
        )
        return 0
    settings = load_settings(ws.root)
    df = df_all if include_inactive else df_all[df_all["active"]]
    first = df_all.dropna(subset=["window_start"]).head(1)
    if not first.empty:
        f = first.iloc[0]
        print(
            f"Generative Themen – Datenstand {_date_de(f['window_end'])}, Zeitfenster"
            f" {_date_de(f['window_start'])} bis {_date_de(f['window_end'])}"
            f" (mind. {int(f['min_cases'])} Fälle aus mind. {int(f['min_providers'])} Trägern;"
            " Trend: letzte zwei Quartale gegen die zwei davor)"
        )
    else:
        print(
            f"Generative Themen (mind. {settings.theme_min_cases} Fälle aus mind."
            f" {settings.theme_min_providers} Trägern)"
        )
    print()
    if df.empty:
        print("Keine aktiven Themen.")
    else:
        print(format_theme_list(df))
    inactive = int((~df_all["active"]).sum())
    print()
    summary = f"{int(df_all['active'].sum())} aktive Themen"
    if inactive and not include_inactive:
        summary += f"; {inactive} inaktive im Themenspeicher (anzeigen mit --all)"
    elif inactive:
        summary += f"; {inactive} inaktive (unter den Schwellen, bleiben im Themenspeicher)"
    print(summary + ".")
    return 0


def _cli_set(ws: Workspace, args) -> int:
    if not ws.register_db_path.exists():
        raise UserError(
            "Es gibt noch keinen Themenspeicher in diesem Arbeitsbereich. Bitte zuerst"
            " `lagebild run` ausführen."
        )
    try:
        user = getpass.getuser()
    except Exception:  # no login name (some containers): record none
        user = None
    change = set_theme_status(
        ws, args.theme_id, args.status, owner=args.owner, note=args.note, user=user
    )
    parts = []
    if change["old_status"] != change["new_status"]:
        parts.append(
            f"Status {STATUS_LABELS[change['old_status']]} → {STATUS_LABELS[change['new_status']]}"
        )
    else:
        parts.append(f"Status bleibt {STATUS_LABELS[change['new_status']]}")
    if change["old_owner"] != change["new_owner"]:
        parts.append(f"Gremium {change['old_owner'] or '–'} → {change['new_owner'] or '–'}")
    elif change["new_owner"]:
        parts.append(f"Gremium bleibt {change['new_owner']}")
    if change["note"]:
        parts.append("Beschlussnotiz gespeichert")
    print(f"{change['theme_id']}: " + "; ".join(parts) + f" (am {_date_de(change['decided_on'])}).")
    return 0
