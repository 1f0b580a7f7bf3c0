"""The HTML page Streamlit serves, made German and accessible before any script runs.

Streamlit's `index.html` says `<html lang="en">` and `<title>Streamlit</title>`, and its
light theme draws captions in a grey of 3.9:1 on white (WCAG 2.1 AA asks 4.5:1). This ASGI
middleware (installed by `dashboards/server.py`, in front of the download guard) rewrites that
page on its way out:

* `lang="de"` (WCAG 3.1.1), so screen readers speak German;
* the title „Lagebild“ until the app sets the page's own („Überblick – Lagebild“);
* a style sheet: captions and other faded text in `palette.MUTED` (5.8:1), a clearly visible
  focus outline on every control reached by keyboard (WCAG 2.4.7).

Only `text/html` responses change; everything else passes as it is. No Streamlit import.
"""

from __future__ import annotations

import gzip

from dashboards import palette

STYLE = f"""
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * ,
[data-testid="stWidgetLabel"] small, [data-testid="stMetricDelta"] {{
  color: {palette.MUTED} !important; opacity: 1 !important; }}
a:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible,
summary:focus-visible, [role="button"]:focus-visible, [role="tab"]:focus-visible,
[role="slider"]:focus-visible, [role="combobox"]:focus-visible, [role="radio"]:focus-visible,
[role="switch"]:focus-visible, [role="checkbox"]:focus-visible, [tabindex]:focus-visible,
label:focus-within {{
  outline: 3px solid {palette.PRIMARY} !important; outline-offset: 2px !important; }}
""".strip()


def rewrite(html: str) -> str:
    """The served page with German language, title and the accessibility style sheet."""
    html = html.replace('<html lang="en">', '<html lang="de">', 1)
    html = html.replace("<title>Streamlit</title>", "<title>Lagebild</title>", 1)
    return html.replace("</head>", f'<style id="lagebild-a11y">{STYLE}</style></head>', 1)


class GermanPage:
    """ASGI middleware: rewrite Streamlit's HTML page (see the module doc)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        start: dict = {}
        body: list[bytes] = []
        state = {"html": False}

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                state["html"] = headers.get(b"content-type", b"").startswith(b"text/html")
                if not state["html"]:
                    await send(message)
                    return
                start.update(message)
            elif message["type"] == "http.response.body":
                if not state["html"]:
                    await send(message)
                    return
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._send_html(start, b"".join(body), send)
            else:
                await send(message)

        await self.app(scope, receive, capture)

    @staticmethod
    async def _send_html(start: dict, data: bytes, send) -> None:
        headers = [(k, v) for k, v in start.get("headers", [])]
        encoding = dict((k.lower(), v) for k, v in headers).get(b"content-encoding", b"")
        if data and encoding.lower() == b"gzip":
            data = gzip.decompress(data)
        elif encoding:  # another encoding: leave the page as it is
            await send(start)
            await send({"type": "http.response.body", "body": data})
            return
        if data:
            data = rewrite(data.decode("utf-8")).encode("utf-8")
        skip = (b"content-length", b"content-encoding")
        headers = [(k, v) for k, v in headers if k.lower() not in skip]
        headers.append((b"content-length", str(len(data)).encode("latin-1")))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": data})
