"""Downloads only for the browser that asked for them: a guard in front of Streamlit's
`/media/` endpoint.

Streamlit serves every download from `/media/<hash>.<ext>` to anyone who has the URL, without
a session or cookie check, until its media manager forgets the file. The guard (an ASGI
middleware, installed by `dashboards/server.py`) closes that gap:

* every page load without it gets a random browser token, the cookie `lagebild_client`
  (HttpOnly, SameSite=Lax); the session's WebSocket carries it, so a view knows it
  (`st.context.cookies`);
* a download is produced only when its button is clicked (a callable, see
  `dashboards/access.py`), and producing it grants that browser token the file's SHA-256 for
  `download_link_seconds`;
* a `/media/` response that is a download (``Content-Disposition: attachment``) is sent only
  when the request carries the token the file was granted to, within that time; everything
  else gets 404. Media that are not downloads pass unchanged. Not single-use: Streamlit's
  frontend fetches a download twice (a check, then the download itself).

No Streamlit import here: the grants are plain data shared by the server and the views
(one process).
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
import threading
import time
import zlib
from http.cookies import SimpleCookie

COOKIE = "lagebild_client"
MEDIA = "/media/"

_grants: dict[tuple[str, str], float] = {}  # (browser token, sha256) -> expiry (monotonic)
_guard = threading.Lock()


def _now() -> float:
    return time.monotonic()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def grant(token: str | None, data: bytes, seconds: float) -> bool:
    """Allow the browser with `token` to fetch `data` within `seconds`."""
    if not token:
        return False
    now = _now()
    with _guard:
        for key in [k for k, until in _grants.items() if until < now]:
            del _grants[key]
        _grants[(token, digest(data))] = now + float(seconds)
    return True


def allowed(token: str | None, data: bytes) -> bool:
    """True when the browser with `token` may receive `data` now."""
    if not token:
        return False
    with _guard:
        until = _grants.get((token, digest(data)))
    return until is not None and until >= _now()


def _decoded(data: bytes, encoding: bytes) -> bytes:
    """The file a response carries: Tornado gzips compressible media (XLSX), and the grant is
    for the file, not its transfer encoding. An unknown encoding stays as is (and fails)."""
    try:
        if encoding.strip().lower() == b"gzip":
            return gzip.decompress(data)
        if encoding.strip().lower() == b"deflate":
            return zlib.decompress(data)
    except (OSError, zlib.error, EOFError):
        return data
    return data


def revoke(token: str | None) -> None:
    """Forget every grant of a browser (logout)."""
    with _guard:
        for key in [k for k in _grants if k[0] == token]:
            del _grants[key]


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def token_of(scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel and morsel.value else None


def _set_cookie(scope) -> bytes:
    https = scope.get("scheme") == "https" or _header(scope, b"x-forwarded-proto") == "https"
    value = f"{COOKIE}={secrets.token_urlsafe(32)}; Path=/; HttpOnly; SameSite=Lax"
    return (value + ("; Secure" if https else "")).encode("latin-1")


class MediaGuard:
    """ASGI middleware: browser token for every page, downloads only for their browser."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = token_of(scope)
        if MEDIA in scope.get("path", ""):
            await self._media(scope, receive, send, token)
            return
        if token:
            await self.app(scope, receive, send)
            return
        cookie = _set_cookie(scope)

        async def with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"set-cookie", cookie)],
                }
            await send(message)

        await self.app(scope, receive, with_cookie)

    async def _media(self, scope, receive, send, token: str | None) -> None:
        start: dict = {}
        body: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        headers = {k.lower(): v for k, v in start.get("headers", [])}
        data = b"".join(body)
        download = headers.get(b"content-disposition", b"").lower().startswith(b"attachment")
        encoding = headers.get(b"content-encoding", b"identity")
        if download and not (
            start.get("status") == 200 and allowed(token, _decoded(data, encoding))
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": b"Nicht gefunden."})
            return
        await send(start)
        await send({"type": "http.response.body", "body": data})
