"""Values from the data as plain text, wherever text is interpreted.

Keys, codes, region names and theme terms come from deliveries. The ingest gate keeps markup
out of keys (exchange format, "Keys"), but every surface that interprets text escapes them
anyway:

* `md_text`: Streamlit Markdown (`st.markdown`, `st.caption`, alerts, widget labels). Every
  ASCII punctuation character gets a backslash (CommonMark allows that for all of them), so
  no link, image, HTML, emphasis, directive (`:red[…]`) or formula (`$…$`) can form; a line
  break becomes a space. Escapes do not stop GitHub's autolinks (Streamlit links bare
  `http://…`, `www.…` and `name@host.tld` found in the text after parsing), so an invisible
  word joiner (U+2060) goes after `http`/`https`/`ftp`/`www` and before every `@`.
* `plot_text`: plotly text (category labels, legend names, hover and marker text). Plotly
  renders a small HTML subset (`<a href>`, `<b>`, `<br>`, …) in every text; `<`, `>` and `&`
  become entities, which plotly shows as the characters.

HTML reports escape through Jinja2's autoescape; CSV and XLSX are neutralised in
`dashboards/exports.py`.
"""

from __future__ import annotations

import re
import string

_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")
_AUTOLINK = re.compile(r"(?i)(https?|ftp|www|mailto|xmpp)(?=[:.])")
JOINER = "\u2060"  # WORD JOINER: invisible, breaks no line, ends every autolink pattern


def md_text(value) -> str:
    """A value as literal text inside Streamlit Markdown."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    text = _AUTOLINK.sub(r"\1" + JOINER, text).replace("@", JOINER + "@")
    return _MD_SPECIAL.sub(r"\\\1", text)


def plot_text(value) -> str:
    """A value as literal text inside a plotly label, legend, hover or marker text."""
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plot_texts(values) -> list[str]:
    return [plot_text(v) for v in values]
