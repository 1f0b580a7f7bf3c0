"""Generative themes: coded themes (SQL), text themes (simplemma + scikit-learn), stable ids and
the theme register (Themenspeicher). Orchestrated by ``pipelines.themes``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent


@cache
def read_sql(name: str) -> str:
    """The text of ``transforms/themes/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
