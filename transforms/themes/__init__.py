"""Generative themes, all in one room: coded themes (SQL), text themes (simplemma +
scikit-learn), stable ids and the theme register (Themenspeicher).

``build`` writes mart.themes and mart.theme_cases, ``store`` opens the register under its lock
(``register`` holds its operations), ``read`` serves themes to the dashboards and the CLI;
their consistency rules are in transforms/checks.py with the marts' rules."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent


@cache
def read_sql(name: str) -> str:
    """The text of ``transforms/themes/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
