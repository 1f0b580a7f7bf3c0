"""Checks for files handed out: no formula in XLSX, no live formula start in CSV."""

from __future__ import annotations

import csv
import io
import re
import zipfile

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(,\d+)?(e-?\d+)?")


def xlsx_problems(data: bytes) -> list[str]:
    """Formula cells, hyperlinks and external relationships in a workbook (zip/XML scan)."""
    found = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if not name.endswith((".xml", ".rels")):
                continue
            xml = z.read(name).decode("utf-8")
            if name.startswith("xl/worksheets/") and re.search(r"<f[ >/]", xml):
                found.append(f"{name}: formula cell")
            if "<hyperlink" in xml:
                found.append(f"{name}: hyperlink")
            if 'TargetMode="External"' in xml:
                found.append(f"{name}: external relationship")
    return found


def xlsx_strings(data: bytes) -> str:
    """Every shared and inline string of a workbook, joined (to find planted values)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [n for n in z.namelist() if n.endswith(".xml")]
        return "\n".join(z.read(n).decode("utf-8") for n in names)


def csv_problems(data: bytes) -> list[str]:
    """Text cells a spreadsheet would read as a formula (negative numbers are fine)."""
    text = data.decode("utf-8-sig")
    lines = [ln for ln in text.splitlines(keepends=True) if not ln.startswith("# ")]
    found = []
    for row in csv.reader(io.StringIO("".join(lines), newline=""), delimiter=";"):
        for cell in row:
            if cell.startswith(FORMULA_START) and not NUMBER.fullmatch(cell):
                found.append(cell)
    return found


# GitHub's autolink literals, which Streamlit's Markdown applies to text after parsing
AUTOLINK = re.compile(r"(?i)(https?://|www\.)|[-.\w+]@[-\w]+\.\w")


def markdown_problems(source: str) -> list[str]:
    """What Streamlit's Markdown would make of `source` beyond text: links, images, raw HTML,
    and autolinks (found in the text, as GitHub Markdown does)."""
    from markdown_it import MarkdownIt

    tokens = [t for tok in MarkdownIt("commonmark").parseInline(source) for t in tok.children or []]
    found = sorted({t.type for t in tokens} & {"link_open", "image", "html_inline"})
    text = "".join(t.content for t in tokens if t.type == "text")
    found += [m.group(0) for m in AUTOLINK.finditer(text)]
    return found
