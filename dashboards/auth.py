"""Dashboard users: a local YAML file with salted argon2id hashes, and `lagebild users`.

    WORKSPACE/users.yaml   (mode 0600, written atomically)

    users:
      anna:
        role: koordination
        provider: null          # required for role traeger: the only provider it may see
        hash: $argon2id$v=19$m=65536,t=3,p=4$...
        demo: false             # demo users log in only when the app runs with --demo
        created_at: '2026-11-21T10:00:00'

No anonymous access: the app shows the login form until a user from this file has
authenticated. `login` is what the form calls: the throttle (`dashboards/throttle.py`: growing
waits, lockout per name and per client), then `authenticate`, and an access-log entry either
way; the messages never tell whether a name exists. Demo users (`--demo`,
`lagebild demo --serve`) are stored with `demo: true` and are refused unless the dashboard
itself runs in demo mode, so a workspace that was once used for a demo is not left open by a
known password.
"""

from __future__ import annotations

import getpass
import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES: dict[str, str] = {
    "koordination": "Koordinierende Stelle",
    "traeger": "Träger",
    "evaluation": "Evaluation",
    "foerderer": "Förderer",
}

NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
MIN_PASSWORD_LENGTH = 10

DEMO_PASSWORD = "demo"  # shown on the login page in demo mode, never valid outside it
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    # name, role, label
    ("demo-koordination", "koordination", "Demo: Koordination"),
    ("demo-traeger", "traeger", "Demo: Träger"),
    ("demo-evaluation", "evaluation", "Demo: Evaluation"),
    ("demo-foerderer", "foerderer", "Demo: Förderer"),
)

_HASHER = PasswordHasher()  # argon2id, random 16-byte salt per hash
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("lagebild-dummy-password")


FAILED = "Anmeldung fehlgeschlagen: Nutzername oder Passwort falsch."
WAIT = (
    "Anmeldung fehlgeschlagen: zu viele Fehlversuche – bitte warten Sie {seconds} s und"
    " versuchen Sie es dann erneut."
)
LOCKED = (
    "Anmeldung vorübergehend gesperrt (zu viele Fehlversuche). Bitte versuchen Sie es in"
    " {minutes} Min. erneut oder bitten Sie die Koordinierungsstelle, die Sperre aufzuheben."
)
UNKNOWN_NAME = "(unbekannter Name)"


@dataclass(frozen=True)
class User:
    """An authenticated user: what the data-access layer needs to scope every query."""

    name: str
    role: str
    provider: str | None = None
    label: str | None = None
    demo: bool = False

    @property
    def role_label(self) -> str:
        return ROLES[self.role]

    @property
    def display_name(self) -> str:
        return self.label or self.name


class UsersFileError(ValueError):
    """The users file cannot be read."""


def _user_error(message: str) -> Exception:
    from kernel.errors import UserError

    return UserError(message)


def load_users(path: Path) -> dict[str, dict]:
    """name -> record (role, provider, hash, demo, ...); {} when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsersFileError(f"Die Nutzerdatei {path} ist beschädigt: {exc}") from exc
    users = (raw.get("users") if isinstance(raw, dict) else raw) or {}
    # a list or a scalar at the top, under `users` or as a user's record: the login page must
    # get this error, not an AttributeError from the first `.get`
    if not isinstance(users, dict) or not all(isinstance(v, dict | None) for v in users.values()):
        raise UsersFileError(f"Die Nutzerdatei {path} hat kein gültiges Format.")
    return {str(k): dict(v or {}) for k, v in users.items()}


def _save_users(path: Path, users: dict[str, dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Lagebild: Dashboard-Nutzer. Passwörter nur als gesalzene argon2id-Hashes.\n"
        "# Verwalten mit `lagebild users add|remove|list --workspace ...`.\n"
        + yaml.safe_dump({"users": users}, allow_unicode=True, sort_keys=True)
    )
    fd, tmp = tempfile.mkstemp(prefix=".users-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _validate(name: str, role: str, provider: str | None) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise _user_error(
            f"Ungültiger Nutzername '{name}': 2 bis 64 Zeichen aus Buchstaben, Ziffern, . _ @ -"
        )
    if role not in ROLES:
        raise _user_error(f"Unbekannte Rolle '{role}'. Erlaubt: {', '.join(ROLES)}")
    if role == "traeger" and not provider:
        raise _user_error("Für die Rolle traeger ist --provider (die Träger-ID) Pflicht.")
    if role != "traeger" and provider:
        raise _user_error("--provider ist nur für die Rolle traeger vorgesehen.")


def add_user(
    path: Path,
    name: str,
    role: str,
    password: str,
    provider: str | None = None,
    *,
    label: str | None = None,
    demo: bool = False,
) -> User:
    """Create a user or replace its role and password. Raises UserError for bad input."""
    _validate(name, role, provider)
    if not demo and len(password) < MIN_PASSWORD_LENGTH:
        raise _user_error(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein.")
    entry = {
        "role": role,
        "provider": provider,
        "label": label,
        "demo": bool(demo),
        "hash": _HASHER.hash(password),  # slow by design: before the lock, not under it
        "created_at": datetime.now().replace(microsecond=0).isoformat(),
    }
    with _users_lock(path):
        users = load_users(path)
        users[name] = entry
        _save_users(path, users)
    return User(name, role, provider, label, demo)


def remove_user(path: Path, name: str) -> bool:
    """Remove `name`; False when there is no such user. An unknown name is answered from the
    file as it is, without the lock: in a workspace that cannot be written (a read-only
    mount) the lock file cannot be made, and „gibt es nicht“ is still the right answer."""
    if name not in load_users(path):
        return False
    with _users_lock(path):
        users = load_users(path)
        if name not in users:
            return False
        del users[name]
        _save_users(path, users)
    return True


def _users_lock(path: Path):
    """Read, change and write the users file as one step: two administrators adding users at
    the same time (or the demo's and a test's setup) otherwise each wrote back the file they
    had read, and one user was lost."""
    from kernel.access_log import file_lock

    path = Path(path)
    return file_lock(path.with_name(f".{path.name}.lock"))


def list_users(path: Path) -> list[User]:
    return [
        User(n, r.get("role", ""), r.get("provider"), r.get("label"), bool(r.get("demo")))
        for n, r in sorted(load_users(path).items())
    ]


def authenticate(path: Path, name: str, password: str, *, allow_demo: bool = False) -> User | None:
    """The user when name and password match, else None (same cost either way)."""
    try:
        users = load_users(path)
    except UsersFileError:
        return None
    record = users.get((name or "").strip())
    stored = (record or {}).get("hash") or _DUMMY_HASH
    try:
        _HASHER.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if record is None:
        return None
    if record.get("role") not in ROLES:
        return None
    if record.get("demo") and not allow_demo:
        return None
    if record.get("role") == "traeger" and not record.get("provider"):
        return None
    return User(
        name.strip(),
        record["role"],
        record.get("provider"),
        record.get("label"),
        bool(record.get("demo")),
    )


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str | None = None  # German, shown when refused
    reason: str | None = None  # falsch, wartezeit, gesperrt (access log)


def login(
    workspace: Path, name: str, password: str, client: str | None, settings, *, allow_demo: bool
) -> LoginResult:
    """One attempt at the login form: throttled, checked, written to the access log."""
    from dashboards.throttle import Limits, Throttle
    from kernel.access_log import record
    from kernel.workspace import Workspace

    ws = Workspace(Path(workspace))
    name = (name or "").strip()
    throttle = Throttle(ws.root, Limits.of(settings))
    verdict = throttle.check(name, client)
    user = None
    if verdict.locked_seconds:
        result = LoginResult(
            None, LOCKED.format(minutes=math.ceil(verdict.locked_seconds / 60)), "gesperrt"
        )
    elif not verdict.allowed:
        result = LoginResult(
            None, WAIT.format(seconds=math.ceil(verdict.wait_seconds)), "wartezeit"
        )
    else:
        user = authenticate(ws.users_file, name, password, allow_demo=allow_demo)
        if user is None:
            throttle.failure(name, client)
            result = LoginResult(None, FAILED, "falsch")
        else:
            throttle.success(name)
            result = LoginResult(user)
    if user is not None:
        record(
            ws.root,
            "login",
            user=user.name,
            role=user.role,
            provider=user.provider,
            client=client or "lokal",
            source="dashboard",
        )
    else:
        try:
            known = name in load_users(ws.users_file)
        except UsersFileError:
            known = False
        record(
            ws.root,
            "login_failed",
            user=name if known else UNKNOWN_NAME,
            client=client or "lokal",
            reason=result.reason,
            source="dashboard",
        )
    return result


def ensure_demo_users(path: Path, provider: str | None) -> list[User]:
    """Create (or refresh) the clearly labelled demo users; `provider` for the Träger user."""
    users = load_users(path)
    created = []
    for name, role, label in DEMO_USERS:
        if role == "traeger" and not provider:
            continue
        prov = provider if role == "traeger" else None
        rec = users.get(name)
        if rec and rec.get("demo") and rec.get("role") == role and rec.get("provider") == prov:
            created.append(User(name, role, prov, label, True))
            continue
        created.append(add_user(path, name, role, DEMO_PASSWORD, prov, label=label, demo=True))
    return created


def has_regular_users(path: Path) -> bool:
    try:
        return any(not r.get("demo") for r in load_users(path).values())
    except UsersFileError:
        return False


# ---------------------------------------------------------------------------------------------
# lagebild users add|remove|list|unlock


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Passwort: ")
    second = getpass.getpass("Passwort wiederholen: ")
    if first != second:
        raise _user_error("Die beiden Passwörter stimmen nicht überein.")
    return first


def _known_providers(workspace: Path) -> set[str] | None:
    from kernel.warehouse import reader
    from kernel.workspace import Workspace

    db = Workspace(workspace).published_db_path
    if not db.exists():
        return None
    try:
        with reader(db) as con:
            rows = con.execute(
                "SELECT DISTINCT provider_id FROM audit.deliveries WHERE provider_id IS NOT NULL"
            ).fetchall()
    except Exception:
        return None
    return {r[0] for r in rows}


def cli_users(args) -> int:
    from kernel.workspace import Workspace

    ws = Workspace(Path(args.workspace).resolve())
    path = ws.users_file
    action = args.users_command
    try:
        if action == "add":
            _validate(args.name, args.role, args.provider)
            if args.provider:
                known = _known_providers(ws.root)
                if known is not None and args.provider not in known:
                    print(
                        f"Hinweis: Träger '{args.provider}' kommt in den veröffentlichten Daten"
                        " (noch) nicht vor.",
                        file=sys.stderr,
                    )
            existed = args.name in load_users(path)
            password = _read_password(args.password_stdin)
            user = add_user(path, args.name, args.role, password, args.provider)
            verb = "aktualisiert" if existed else "angelegt"
            scope = f", Träger {user.provider}" if user.provider else ""
            print(f"Nutzer '{user.name}' {verb} (Rolle {user.role}{scope}).")
            return 0
        if action == "remove":
            if not remove_user(path, args.name):
                raise _user_error(f"Nutzer '{args.name}' gibt es nicht in {path}.")
            print(f"Nutzer '{args.name}' entfernt.")
            return 0
        if action == "list":
            from dashboards.throttle import Throttle

            users = list_users(path)
            if not users:
                print(f"Keine Nutzer in {path}. Anlegen mit: lagebild users add NAME --role ROLLE")
                return 0
            locked = Throttle(ws.root).locked_names([u.name for u in users])
            for u in users:
                extra = f"  Träger {u.provider}" if u.provider else ""
                demo = "  (Demo, nur im Demo-Modus)" if u.demo else ""
                lock = (
                    f"  (gesperrt, noch {math.ceil(locked[u.name] / 60)} Min.)"
                    if u.name in locked
                    else ""
                )
                print(f"{u.name:24} {u.role:13}{extra}{demo}{lock}")
            return 0
        if action == "unlock":
            from dashboards.throttle import Throttle

            if args.all:
                Throttle(ws.root).unlock(None)
                print("Alle Anmeldesperren und Wartezeiten aufgehoben.")
                return 0
            if not args.name:
                raise _user_error("Bitte den Nutzernamen angeben (oder --all).")
            if Throttle(ws.root).unlock(args.name):
                print(f"Anmeldesperre für '{args.name}' aufgehoben.")
            else:
                print(f"Für '{args.name}' bestand keine Sperre.")
            return 0
    except UsersFileError as exc:
        raise _user_error(str(exc)) from exc
    raise _user_error(f"Unbekannte Aktion '{action}'.")
