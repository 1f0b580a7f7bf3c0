"""The guard in front of Streamlit's /media/ endpoint: a download only for the browser it was
made for, within `download_link_seconds` (the browser proof is in
tests/e2e/test_security_browser.py)."""

from __future__ import annotations

import asyncio
import gzip
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboards import media_guard
from dashboards.media_guard import COOKIE, MediaGuard, grant

FILE = b"Tr\xc3\xa4ger;F\xc3\xa4lle\np01;12\n"


async def _streamlit(scope, receive, send):
    """Stands in for Streamlit: /media/d.csv is a download, /media/i.png an image."""
    if scope["path"] == "/media/d.csv":
        headers = [(b"content-disposition", b'attachment; filename="d.csv"')]
        body = FILE
    elif scope["path"] == "/media/d.xlsx":  # Tornado gzips compressible media
        headers = [
            (b"content-disposition", b'attachment; filename="d.xlsx"'),
            (b"content-encoding", b"gzip"),
        ]
        body = gzip.compress(FILE)
    elif scope["path"] == "/media/i.png":
        headers, body = [(b"content-type", b"image/png")], b"png"
    else:
        headers, body = [(b"content-type", b"text/html")], b"<html></html>"
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def get(path: str, token: str | None = None) -> tuple[int, dict, bytes]:
    headers = [(b"cookie", f"{COOKIE}={token}".encode())] if token else []
    scope = {"type": "http", "path": path, "headers": headers, "scheme": "http"}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    # in a thread of its own: Playwright's session fixture may hold this thread's event loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, MediaGuard(_streamlit)(scope, receive, send)).result()
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture(autouse=True)
def _no_grants():
    media_guard._grants.clear()
    yield
    media_guard._grants.clear()


def test_a_page_load_gets_a_private_browser_token():
    status, headers, _ = get("/")
    assert status == 200
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "set-cookie" not in get("/", token="schon-da")[1]


def test_a_download_is_served_only_to_its_browser():
    assert get("/media/d.csv")[0] == 404  # nothing granted, no cookie
    grant("browser-a", FILE, 60)
    assert get("/media/d.csv")[0] == 404  # the link alone: no cookie
    assert get("/media/d.csv", token="browser-b")[0] == 404  # another browser
    status, headers, body = get("/media/d.csv", token="browser-a")
    assert (status, body) == (200, FILE) and headers["content-disposition"].startswith("attach")
    assert get("/media/d.csv", token="browser-a")[0] == 200  # the frontend fetches twice


def test_a_download_expires(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(media_guard, "_now", lambda: now[0])
    grant("browser-a", FILE, 60)
    now[0] += 61
    assert get("/media/d.csv", token="browser-a")[0] == 404


def test_logout_revokes_and_other_media_pass():
    grant("browser-a", FILE, 60)
    media_guard.revoke("browser-a")
    assert get("/media/d.csv", token="browser-a")[0] == 404
    assert get("/media/i.png")[:3:2] == (200, b"png")


def test_a_gzipped_download_is_served_to_its_browser():
    """The grant is for the file; the response may carry it gzip-encoded (XLSX in Chromium
    failed with 404 before: the guard hashed the compressed body)."""
    grant("t1", FILE, 60)
    status, headers, body = get("/media/d.xlsx", "t1")
    assert status == 200 and gzip.decompress(body) == FILE
    assert headers["content-encoding"] == "gzip"
    assert get("/media/d.xlsx", "t2")[0] == 404
