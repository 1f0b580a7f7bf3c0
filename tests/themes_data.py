"""Hand-made staging data for the generative-themes tests (no generator needed).

Window for AS_OF = 2026-09-30: 2025-10-01 .. 2026-09-30, second half from 2026-04-01.

Coded pairs (barrier_code, domain):
  wartezeit / gesundheit_psychisch      6 cases, 3 providers, in window        -> theme
  kosten / wohnen                       7 cases, 1 provider (P4)               -> local, no theme
  sprachbarriere / sprache              4 cases (one noted twice), 2 providers -> below min_cases
  kein_angebot / familie_kinderbetreuung  5 cases, 2 of them before the window -> 3 in window
  zustaendigkeit_unklar / lebensunterhalt  5 cases, 2 providers, exactly at the thresholds

Text topics (notes): psychotherapy waits, childcare, housing/SCHUFA across providers P1-P3,
and a local one (rural bus ticket) at P4 only; plus neutral filler sentences.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

AS_OF = date(2026, 9, 30)

TOPIC_SENTENCES = {
    "psychotherapie": [
        "Klientin wartet seit Monaten auf einen Therapieplatz, Psychotherapie dringend nötig.",
        "Kein Therapieplatz frei, die Wartezeit für eine Psychotherapie liegt über einem Jahr.",
        "Psychotherapeutische Praxen nennen lange Wartezeiten, Therapieplatz nicht verfügbar.",
        "Traumatherapie empfohlen, Wartezeit auf den Therapieplatz zu lang.",
        "Ambulante Psychotherapie abgelehnt wegen Wartezeit, Therapieplätze fehlen.",
    ],
    "kinderbetreuung": [
        "Kein Kitaplatz für das jüngste Kind, Kinderbetreuung fehlt völlig.",
        "Mutter findet keine Kinderbetreuung, Kitaplatz erst im nächsten Jahr.",
        "Kitaplatz abgelehnt, Kinderbetreuung ungeklärt, Tagesmutter nicht zu finden.",
        "Ohne Kinderbetreuung kein Kursbesuch möglich, Kitaplätze belegt.",
        "Anmeldung im Kitaportal erfolglos, Kinderbetreuung weiter offen.",
    ],
    "wohnen": [
        "Vermieter lehnt ab wegen Schufa Eintrag, Wohnung nicht zu bekommen.",
        "Mietvertrag scheitert an der Schufa, Wohnungssuche bleibt erfolglos.",
        "Neuer Vermieter verlangt Schufa Auskunft vor dem Mietvertrag.",
        "Wohnung gefunden, Vermieter will wegen Schufa keinen Mietvertrag.",
        "Wohnungsbesichtigung ohne Erfolg, Vermieter fordert Schufa und Bürgschaft.",
    ],
    "busticket": [  # local: only provider P4
        "Busticket für den Landkreis zu teuer, Fahrtkosten nicht erstattet.",
        "Keine Busverbindung im Landkreis, Fahrtkosten für das Busticket fehlen.",
        "Busticket abgelaufen, Fahrtkosten zum Amt im Landkreis nicht tragbar.",
    ],
}
FILLER = [
    "Termin vereinbart.",
    "Gespräch geführt.",
    "Unterlagen nachgereicht.",
    "Rückmeldung steht aus.",
    "",
]


def note_for(topic: str, rng: random.Random) -> str:
    text = rng.choice(TOPIC_SENTENCES[topic])
    filler = rng.choice(FILLER)
    return f"{text} {filler}".strip()


def set_as_of(con, as_of: date = AS_OF) -> None:
    con.execute("DELETE FROM meta.data_basis")
    con.execute(
        "INSERT INTO meta.data_basis VALUES (?, 'argument', 4, 4, now()::TIMESTAMP, 'test')",
        [as_of],
    )


def add_case(con, provider: str, case: str, region: str = "05111", opened: date | None = None):
    con.execute(
        """INSERT INTO staging.cases (provider_id, case_id, program, region_code, caseworker_id,
                                      opened_on, intensity, delivery_id)
           VALUES (?, ?, 'kim', ?, 'CW1', ?, 'case_management', 'd1')""",
        [provider, case, region, opened or date(2025, 1, 1)],
    )


def add_barrier(con, provider, case, noted_on, code, domain, note=None):
    con.execute(
        """INSERT INTO staging.barriers (provider_id, case_id, noted_on, barrier_code, domain,
                                         note, delivery_id)
           VALUES (?, ?, ?, ?, ?, ?, 'd1')""",
        [provider, case, noted_on, code, domain, note],
    )


REGIONS = {"P1": "05111", "P2": "05113", "P3": "05315", "P4": "05978"}


def build_coded(con) -> None:
    """The coded pairs described in the module docstring (cases C-<pair>-<n>)."""
    d_prev, d_recent = date(2025, 12, 1), date(2026, 6, 15)

    def case(provider, name):
        add_case(con, provider, name, REGIONS[provider])
        return name

    # wartezeit / gesundheit_psychisch: 6 cases at P1, P2, P3 (2 early, 4 recent)
    for i, (p, d) in enumerate(
        [
            ("P1", d_prev),
            ("P2", d_prev),
            ("P3", d_recent),
            ("P1", d_recent),
            ("P2", d_recent),
            ("P3", d_recent),
        ]
    ):
        c = case(p, f"C-wz-{i}")
        add_barrier(con, p, c, d, "wartezeit", "gesundheit_psychisch")
    # kosten / wohnen: 7 cases, all at P4 (local)
    for i in range(7):
        c = case("P4", f"C-ko-{i}")
        add_barrier(con, "P4", c, d_recent, "kosten", "wohnen")
    # sprachbarriere / sprache: 4 cases, one noted twice -> 4 cases, 5 rows
    for i, p in enumerate(["P1", "P1", "P2", "P2"]):
        c = case(p, f"C-sp-{i}")
        add_barrier(con, p, c, d_prev, "sprachbarriere", "sprache")
    add_barrier(con, "P1", "C-sp-0", d_recent, "sprachbarriere", "sprache")
    # kein_angebot / familie_kinderbetreuung: 5 cases, 2 before the window
    for i, (p, d) in enumerate(
        [
            ("P1", date(2025, 3, 1)),
            ("P2", date(2025, 9, 30)),
            ("P1", d_prev),
            ("P2", d_prev),
            ("P3", d_recent),
        ]
    ):
        c = case(p, f"C-ka-{i}")
        add_barrier(con, p, c, d, "kein_angebot", "familie_kinderbetreuung")
    # zustaendigkeit_unklar / lebensunterhalt: exactly 5 cases from 2 providers
    for i, p in enumerate(["P1", "P1", "P1", "P1", "P2"]):
        c = case(p, f"C-zu-{i}")
        add_barrier(con, p, c, d_recent, "zustaendigkeit_unklar", "lebensunterhalt")


def build_text(con, per_topic: int = 40, seed: int = 3) -> None:
    """Notes for the text topics (cases T-<topic>-<n>), barrier 'sonstiges' without domain."""
    rng = random.Random(seed)
    start = date(2025, 10, 5)
    for topic in TOPIC_SENTENCES:
        providers = ["P4"] if topic == "busticket" else ["P1", "P2", "P3"]
        for i in range(per_topic):
            p = providers[i % len(providers)]
            c = f"T-{topic}-{i}"
            add_case(con, p, c, REGIONS[p])
            noted = start + timedelta(days=rng.randrange(0, 360))
            add_barrier(con, p, c, noted, "sonstiges", None, note_for(topic, rng))
        # a second note in some cases: counted once per case
        for i in range(0, per_topic, 5):
            p = providers[i % len(providers)]
            add_barrier(
                con, p, f"T-{topic}-{i}", date(2026, 9, 1), "sonstiges", None, note_for(topic, rng)
            )


def build_mart_cases(con) -> None:
    """A stand-in mart.cases (one row per case, keys and a few columns) for the tests."""
    con.execute("CREATE SCHEMA IF NOT EXISTS mart")
    con.execute(
        """CREATE OR REPLACE TABLE mart.cases AS
           SELECT c.provider_id, c.case_id, c.person_key, c.program, c.region_code,
                  c.intensity, c.opened_on, c.closed_on, c.close_reason,
                  list(DISTINCT b.barrier_code ORDER BY b.barrier_code) AS barrier_codes
           FROM staging.cases c
           LEFT JOIN staging.barriers b USING (provider_id, case_id)
           GROUP BY ALL"""
    )


def build_all(con, as_of: date = AS_OF, text: bool = True) -> None:
    set_as_of(con, as_of)
    build_coded(con)
    if text:
        build_text(con)
    build_mart_cases(con)
