"""`lagebild dashboard --workspace DIR [--port P] [--demo]`: start the Streamlit app.

Streamlit runs headless, bound to 127.0.0.1, without usage statistics and without a file
watcher. Binding to a fixed address also keeps Streamlit from looking up the machine's
external IP address on an internet service at start-up (it does that for wildcard binds in
headless mode). The workspace goes to the app as a script argument and in LAGEBILD_WORKSPACE.

Streamlit runs `server.py`: the app (`app.py`) behind the download guard
(`media_guard.py`). Starting prunes the access log to its retention.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP = HERE / "app.py"
SERVER = HERE / "server.py"  # APP behind the download guard
DEFAULT_ADDRESS = "127.0.0.1"

STREAMLIT_FLAGS = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "global.developmentMode": "false",
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "none",
    # no CSV export or clipboard copy built into st.dataframe: every file goes through
    # dashboards/exports.py (formula-safe) and the access log
    "client.disableDataExport": "true",
    "theme.base": "light",
}


def command(
    workspace: Path, port: int = 8501, demo: bool = False, address: str = DEFAULT_ADDRESS
) -> list[str]:
    """The `streamlit run` command line for a workspace."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(SERVER)]
    for key, value in {
        **STREAMLIT_FLAGS,
        "server.port": str(port),
        "server.address": address,
    }.items():
        cmd += [f"--{key}", value]
    cmd += ["--", "--workspace", str(Path(workspace).resolve())]
    if demo:
        cmd.append("--demo")
    return cmd


def environment(workspace: Path, demo: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env["LAGEBILD_WORKSPACE"] = str(Path(workspace).resolve())
    env["LAGEBILD_DEMO"] = "1" if demo else "0"
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    return env


def _first_provider(workspace: Path) -> str | None:
    from dashboards.read import Source

    src = Source.of(workspace)
    if not src.has_data():
        return None
    with src.read() as con:
        row = con.execute(
            "SELECT provider_id FROM mart.cases GROUP BY provider_id"
            " ORDER BY count(*) DESC, provider_id LIMIT 1"
        ).fetchone()
    return row[0] if row else None


def prepare(workspace: Path, demo: bool = False) -> list:
    """Check the workspace and users; in demo mode create the labelled demo users."""
    from dashboards.auth import ensure_demo_users, has_regular_users
    from dashboards.read import Source
    from kernel.errors import UserError
    from kernel.workspace import Workspace

    ws = Workspace(Path(workspace).resolve())
    if not ws.root.is_dir():
        raise UserError(f"Den Arbeitsbereich {ws.root} gibt es nicht.")
    demo_users = []
    if demo:
        demo_users = ensure_demo_users(ws.users_file, _first_provider(ws.root))
    elif not has_regular_users(ws.users_file):
        raise UserError(
            "Es ist noch kein Dashboard-Nutzer angelegt. Zum Beispiel:\n"
            f"  lagebild users add anna --role koordination --workspace {ws.root}"
        )
    from kernel import access_log
    from kernel.settings import load_settings

    access_log.prune(ws.root, load_settings(ws.root).access_log_retention_days)
    if not Source.of(ws.root).has_data():
        print(
            "Hinweis: Noch keine Daten veröffentlicht – bitte zuerst `lagebild run` ausführen."
            " Das Dashboard startet trotzdem.",
            file=sys.stderr,
        )
    return demo_users


def serve(
    workspace: Path, port: int = 8501, demo: bool = False, address: str = DEFAULT_ADDRESS
) -> int:
    """Prepare and run the dashboard in the foreground until Ctrl+C."""
    demo_users = prepare(workspace, demo)
    print(f"Lagebild-Dashboards: http://{address}:{port}  (beenden mit Strg+C)")
    if demo_users:
        print(
            "Demo-Nutzer (Passwort „demo“, nur im Demo-Modus gültig): "
            + ", ".join(u.name for u in demo_users)
        )
    proc = subprocess.Popen(
        command(workspace, port, demo, address), cwd=HERE, env=environment(workspace, demo)
    )
    # `kill` of this process must not leave Streamlit running on its own
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0


def cli_dashboard(args) -> int:
    return serve(Path(args.workspace), port=args.port, demo=bool(getattr(args, "demo", False)))


def launch(workspace: Path, port: int = 8501, demo: bool = False) -> int:
    """Entry point for `lagebild demo --serve` (same as `lagebild dashboard`)."""
    return serve(Path(workspace), port=port, demo=demo)
