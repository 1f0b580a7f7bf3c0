"""A small published warehouse for fast dashboard and report tests.

Synthetic staging rows (contract columns) are turned into marts by the project's own SQL
models (`transforms.runner.build_marts`), so the tables have exactly the columns the pipeline
writes. Audit, meta and theme tables are filled by hand. Provider `p04` is deliberately tiny
(two cases) so that suppression is visible. The slow, complete path (`lagebild generate` +
`lagebild run`) is used by the e2e and report integration tests.

`build(..., hostile=True)` writes the same warehouse with hostile keys — formulas, HTML,
Markdown images — as provider, case and caseworker ids, region codes and theme labels,
bypassing the ingest (which rejects such keys), plus planted case ids (`GEHEIMFALL…`) and a
provider without staff (the "keine VZÄ" warning): the security tests check every surface.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.schema import AUDIT_DDL, META_DDL, staging_ddl
from kernel.settings import Settings
from kernel.warehouse import connect

AS_OF = date(2026, 9, 30)
PROVIDERS = {"p01": 180, "p02": 130, "p03": 90, "p04": 2}
PROGRAMS = ["kim", "jmd", "mbe", "pcve"]
REGIONS = ["05315", "05913", "05111"]
DOMAINS = ["wohnen", "sprache", "gesundheit_psychisch", "ausbildung_arbeit", "aufenthalt"]
SERVICES = ["psychotherapie", "sprachkurs", "wohnraum", "kita_platz", "schuldnerberatung"]
CLOSE_REASONS = ["ziel_erreicht", "kein_kontakt", "strukturelle_hindernisse", "weitervermittlung"]
STEPS = [
    "erstgespraech",
    "assessment",
    "hilfeplan",
    "monitoring",
    "reassessment",
    "evaluation",
    "abschluss",
    "nachgespraech",
]


HOSTILE = (
    '=HYPERLINK("http://evil.example/x","Info")',
    '<a href="http://evil.example">x</a>',
    "![x](http://evil.example/p.png)",
    "<img src=http://evil.example/i.png>",
    "+cmd",
    "@SUM(A1)",
    "-1+1",
)
HOSTILE_PROVIDERS = dict(zip(PROVIDERS, HOSTILE[:4], strict=True))  # p01..p04
HOSTILE_REGIONS = {"05315": HOSTILE[2], "05913": HOSTILE[1]}  # 05111 stays a real Kreis
HOSTILE_CASEWORKERS = {"cw1": HOSTILE[4], "cw2": HOSTILE[5]}
SECRET_CASE = "GEHEIMFALL"  # every other case id starts with it


def _hostile_case(case_id: str) -> str:
    i = int(case_id[1:])
    return HOSTILE[[6, 4, 5, 0, 1][i]] if i < 5 else f"{SECRET_CASE}{i:04d}"


def _make_hostile(frames: dict[str, pd.DataFrame]) -> None:
    """Keys as an attacker would deliver them (after delivery ids were derived)."""
    for df in frames.values():
        if "case_id" in df.columns:
            df["case_id"] = df["case_id"].map(_hostile_case)
        if "caseworker_id" in df.columns:
            df["caseworker_id"] = (
                df["caseworker_id"].str.split("-").str[-1].map(HOSTILE_CASEWORKERS)
            )
        if "region_code" in df.columns:
            df["region_code"] = df["region_code"].map(lambda r: HOSTILE_REGIONS.get(r, r))
        if "provider_id" in df.columns:
            df["provider_id"] = df["provider_id"].map(HOSTILE_PROVIDERS)
    staffing = frames["staffing"]
    frames["staffing"] = staffing[staffing["provider_id"] != HOSTILE_PROVIDERS["p03"]]


def _staging(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    cases, goals, refs, contacts, barriers, staffing, relapses = [], [], [], [], [], [], []
    persons = [f"pk{i:06d}" for i in range(320)]
    for p_idx, (prov, n) in enumerate(PROVIDERS.items()):
        home = REGIONS[p_idx % len(REGIONS)]
        programs = ["kim"] if prov == "p04" else PROGRAMS
        for prog in programs:
            for cw in range(1, 3 if prov != "p04" else 2):
                staffing.append(
                    dict(
                        provider_id=prov,
                        caseworker_id=f"{prov}-cw{cw}",
                        program=prog,
                        region_code=home,
                        valid_from=date(2023, 1, 1),
                        valid_to=None,
                        fte=0.5 if prov != "p02" else 0.25,
                    )
                )
        for i in range(n):
            prog = programs[int(rng.integers(0, len(programs)))]
            opened = date(2023, 1, 1) + timedelta(days=int(rng.integers(0, 1330)))
            closed = None
            reason = None
            if rng.random() < 0.65:
                closed = opened + timedelta(days=int(rng.integers(20, 420)))
                reason = CLOSE_REASONS[int(rng.integers(0, 4))]
            case_id = f"F{i:04d}"
            intensity = (
                "case_management"
                if prov == "p04"
                else ["information", "verweisberatung", "case_management"][
                    int(rng.choice(3, p=[0.2, 0.3, 0.5]))
                ]
            )
            cases.append(
                dict(
                    provider_id=prov,
                    case_id=case_id,
                    person_key=persons[int(rng.integers(0, len(persons)))]
                    if rng.random() < 0.75
                    else None,
                    program=prog,
                    region_code=home,
                    caseworker_id=f"{prov}-cw{1 + i % 2}" if prov != "p04" else f"{prov}-cw1",
                    opened_on=opened,
                    closed_on=closed,
                    intensity=intensity,
                    age_group="18_26",
                    gender="w",
                    referral_source="selbst",
                    close_reason=reason,
                    previous_case_id=None,
                    risk_level="mittel" if prog == "pcve" else None,
                    phenomenon="rechts" if prog == "pcve" else None,
                )
            )
            end = closed or AS_OF
            span = max(1, (end - opened).days)
            for g in range(int(rng.integers(0, 5))):
                dom = DOMAINS[int(rng.integers(0, len(DOMAINS)))]
                set_on = opened + timedelta(days=int(rng.integers(0, span)))
                offer = bool(
                    rng.random() < (0.45 if dom in ("wohnen", "gesundheit_psychisch") else 0.8)
                )
                goals.append(
                    dict(
                        provider_id=prov,
                        case_id=case_id,
                        goal_id=f"Z{g}",
                        domain=dom,
                        set_on=set_on,
                        due_on=None,
                        status="offen",
                        status_on=set_on + timedelta(days=60) if rng.random() < 0.5 else None,
                        offer_available=offer,
                    )
                )
                if not offer:
                    barriers.append(
                        dict(
                            provider_id=prov,
                            case_id=case_id,
                            noted_on=set_on,
                            barrier_code="kein_angebot",
                            domain=dom,
                            note="Kein Platz verfügbar, lange Warteliste",
                        )
                    )
            for r in range(int(rng.integers(0, 3))):
                svc = SERVICES[int(rng.integers(0, len(SERVICES)))]
                req = opened + timedelta(days=int(rng.integers(0, span)))
                outcome = ["begonnen", "warteliste", "kein_angebot", "abgelehnt"][
                    int(rng.choice(4, p=[0.6, 0.2, 0.1, 0.1]))
                ]
                started = (
                    req + timedelta(days=int(rng.integers(3, 150)))
                    if outcome == "begonnen"
                    else None
                )
                refs.append(
                    dict(
                        provider_id=prov,
                        case_id=case_id,
                        referral_id=f"V{r}",
                        goal_id=None,
                        service_type=svc,
                        requested_on=req,
                        started_on=started,
                        outcome=outcome,
                    )
                )
            for s_i, step in enumerate(STEPS):
                if rng.random() < 0.7:
                    contacts.append(
                        dict(
                            provider_id=prov,
                            case_id=case_id,
                            contact_on=min(end, opened + timedelta(days=10 * s_i)),
                            step=step,
                        )
                    )
            if prog == "pcve" and rng.random() < 0.3:
                relapses.append(
                    dict(
                        provider_id=prov,
                        case_id=case_id,
                        event_on=opened + timedelta(days=int(rng.integers(0, 900))),
                        kind="szenekontakt",
                        source="beratung",
                    )
                )
    return {
        "cases": pd.DataFrame(cases),
        "goals": pd.DataFrame(goals),
        "referrals": pd.DataFrame(refs),
        "contacts": pd.DataFrame(contacts),
        "barriers": pd.DataFrame(barriers),
        "staffing": pd.DataFrame(staffing),
        "relapses": pd.DataFrame(relapses),
    }


REGISTER = "themenspeicher.duckdb"  # the theme register a build writes beside `published/`
_built: dict[tuple[int, bool], Path] = {}  # (seed, hostile) -> this process's first build


def build(path: Path, seed: int = 3, *, hostile: bool = False) -> Path:
    """Write a published warehouse to `path` and return it (with hostile keys on request).

    Built once per process, seed and kind, then copied with its theme register: a build takes
    ~2.7 s and gives the same tables wherever it lands (only its timings and stamps differ).
    Where a register is already (a second build into a workspace syncs with it), it builds."""
    workspace = path.parent.parent
    if (workspace / REGISTER).exists():
        return _build(path, seed, hostile=hostile)
    first = _built.get((seed, hostile))
    if first is None or not first.exists():
        folder = Path(tempfile.mkdtemp(prefix="lagebild-fixture-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        first = _build(folder / "ws" / "published" / "lagebild.duckdb", seed, hostile=hostile)
        _built[(seed, hostile)] = first
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    shutil.copyfile(first, path)
    shutil.copyfile(first.parent.parent / REGISTER, workspace / REGISTER)
    return path


def _build(path: Path, seed: int, *, hostile: bool) -> Path:
    from transforms.runner import build_marts

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    con = connect(path)
    con.execute(staging_ddl())
    con.execute(AUDIT_DDL)
    con.execute(META_DDL)
    frames = _staging(rng)
    for df in frames.values():
        df["delivery_id"] = "d" + df["provider_id"].str.slice(1).str.zfill(15)
    if hostile:
        _make_hostile(frames)
    for table, df in frames.items():
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema='staging'"
                " AND table_name=? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        df = df.copy()
        for c in cols:
            if c not in df.columns:
                df[c] = None
        con.register("src", df[cols])
        con.execute(f"INSERT INTO staging.{table} SELECT * FROM src")
        con.unregister("src")
    settings = Settings(workspace=path.parent.parent, as_of=AS_OF)
    _audit(con, HOSTILE_PROVIDERS if hostile else {})
    build_marts(con, settings, AS_OF)
    _themes(con, settings)
    if hostile:
        labels = con.execute("SELECT theme_id FROM mart.themes ORDER BY theme_id").fetchall()
        for i, (theme_id,) in enumerate(labels):
            con.execute(
                "UPDATE mart.themes SET label = ? WHERE theme_id = ?",
                [HOSTILE[i % len(HOSTILE)], theme_id],
            )
    from dashboards.disclosure import publication

    publication.write(con, publication.build(con, settings))  # as the publish step does
    for schema in ("staging", "intermediate"):
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    con.close()
    return path


def _themes(con, settings: Settings) -> None:
    try:
        from transforms.themes.build import build_themes
    except ImportError:  # themes stage not there yet
        build_themes = None
    if build_themes is not None:
        build_themes(
            con, settings, register_workspace=settings.workspace, run_at=datetime(2026, 10, 3, 8, 0)
        )
        return
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name='mart' AND table_name='themes'"
    ).fetchone()[0]
    if exists:
        return
    con.execute(
        """CREATE TABLE mart.themes (theme_id VARCHAR, kind VARCHAR, label VARCHAR,
        barrier_code VARCHAR, domain VARCHAR, terms VARCHAR[], cases INTEGER, providers INTEGER,
        regions INTEGER, first_seen DATE, last_seen DATE, trend VARCHAR,
        exemplary_cases VARCHAR[], status VARCHAR)"""
    )
    con.execute(
        """INSERT INTO mart.themes VALUES
        ('kein_angebot-wohnen', 'code', 'Kein passendes Angebot – Wohnen', 'kein_angebot',
         'wohnen', [], 42, 3, 2, '2025-10-02', '2026-09-12', 'steigend',
         ['p01/F0001', 'p02/F0003'], 'neu'),
        ('kein_angebot-gesundheit_psychisch', 'code',
         'Kein passendes Angebot – Psychische Gesundheit', 'kein_angebot',
         'gesundheit_psychisch', [], 17, 2, 2, '2025-11-02', '2026-08-30', 'gleich',
         ['p01/F0005'], 'priorisiert'),
        ('text-01', 'text', 'Warteliste, Platz, verfügbar', NULL, NULL,
         ['warteliste', 'platz', 'verfügbar'], 9, 2, 1, '2026-01-10', '2026-09-01', 'neu',
         ['p03/F0002'], 'neu')"""
    )


# the tables of a delivery (a real delivery carries them all: lineage names each row's delivery)
TABLES = ["cases", "goals", "referrals", "staffing", "relapses", "contacts", "barriers"]


def _audit(con, rename: dict[str, str]) -> None:
    deliveries = []
    for i, prov in enumerate(PROVIDERS):
        partial = prov == "p03"
        deliveries.append(
            (
                f"d{prov[1:].zfill(15)}",
                rename.get(prov, prov),
                f"{prov}_export_2026-10.zip",
                f"{i:064d}",
                datetime(2026, 10, 2, 9, i),
                datetime(2026, 10, 2, 10, i),
                AS_OF,
                AS_OF,
                "zip+csv",
                TABLES,
                TABLES,
                "partial" if partial else "accepted",
                1000,
                997 if partial else 1000,
                3 if partial else 0,
                None,
                "run1",
            )
        )
    deliveries.append(
        (
            "q000000000000001",
            rename.get("p02", "p02"),
            "p02_export_alt.xlsx",
            "f" * 64,
            datetime(2026, 9, 1, 9),
            datetime(2026, 9, 1, 10),
            None,
            date(2026, 9, 1),
            "xlsx",
            ["cases"],
            [],
            "quarantined",
            50,
            0,
            50,
            "Direkter Identifikator in Spalte 'email'",
            "run1",
        )
    )
    con.executemany("INSERT INTO audit.deliveries VALUES (" + ",".join("?" * 17) + ")", deliveries)
    con.executemany(
        "INSERT INTO audit.delivery_tables VALUES (?,?,?,?,?,?)",
        [(d[0], "cases", "faelle.csv", d[12], d[13], d[14]) for d in deliveries],
    )
    con.executemany(
        "INSERT INTO audit.rejections VALUES (?,?,?,?,?,?,?)",
        [
            (
                "d000000000000003",
                "cases",
                "faelle.csv",
                17,
                "closed_on",
                "Ende liegt vor Beginn",
                "row",
            ),
            (
                "d000000000000003",
                "cases",
                "faelle.csv",
                23,
                "program",
                "Unbekannter Code für Programm",
                "row",
            ),
            (
                "d000000000000003",
                "goals",
                "ziele.csv",
                5,
                "case_id",
                "Fall existiert nicht in der Lieferung",
                "row",
            ),
            (
                "q000000000000001",
                "cases",
                "faelle.xlsx",
                1,
                "email",
                "Spalte benennt einen direkten Identifikator (E-Mail)",
                "quarantine",
            ),
        ],
    )
    con.execute(
        "INSERT INTO meta.data_basis VALUES (?, 'lieferungen', 4, 4, ?, 'run1')",
        [AS_OF, datetime(2026, 10, 3, 8, 0)],
    )
