"""axe-core in the browser tests: the WCAG 2.1 A/AA rules, serious and critical findings.

axe-core comes bundled with the Python package `axe-playwright-python` (nothing is fetched at
run time). A finding fails the test unless docs/barrierefreiheit.md lists it, with its reason,
in the machine-readable block between `<!-- axe-allowlist -->` and `<!-- /axe-allowlist -->`:
one entry per rule id and the CSS target (a substring of axe's selector) it is allowed on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
STATEMENT = ROOT / "docs" / "barrierefreiheit.md"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}


@dataclass(frozen=True)
class Allowed:
    rule: str
    target: str  # substring of the node's CSS selector
    reason: str


def allowlist(path: Path = STATEMENT) -> list[Allowed]:
    """The findings the accessibility statement allows, each with its reason."""
    text = path.read_text(encoding="utf-8")
    m = re.search(
        r"<!-- axe-allowlist -->\s*```yaml\n(.*?)```\s*<!-- /axe-allowlist -->", text, re.S
    )
    if not m:
        raise AssertionError(f"{path}: kein axe-allowlist-Block")
    entries = yaml.safe_load(m.group(1)) or []
    out = []
    for e in entries:
        if not str(e.get("reason", "")).strip():
            raise AssertionError(f"{path}: Ausnahme ohne Begründung: {e}")
        out.append(Allowed(e["rule"], e["target"], e["reason"]))
    return out


def _axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def findings(page, where: str) -> list[str]:
    """Serious and critical WCAG 2.1 A/AA findings on the page, not allowed by the statement;
    each as `where: rule (impact) target – help`."""
    result = _axe().run(
        page, options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    )
    allowed = allowlist()
    out = []
    for v in result.response["violations"]:
        if v["impact"] not in BLOCKING:
            continue
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            if any(a.rule == v["id"] and a.target in target for a in allowed):
                continue
            out.append(
                f"{where}: {v['id']} ({v['impact']}) {target} – {node.get('failureSummary', v['help'])[:300]}"
            )
    return out
