"""Consistency rules for the marts and the themes: the logic behind the Dagster asset checks.

Each rule counts the rows that break it (0 = passed). `run_checks(con)` runs them on a
connection; pipelines/defs/marts.py and pipelines/defs/themes.py expose each rule as an asset
check of its table, and the tests call `run_checks` after every fixture build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from transforms.dictionary import load_mart_dictionary


@dataclass(frozen=True)
class Rule:
    table: str  # mart table name without schema
    name: str
    description: str  # German: shown in the Dagster UI
    sql: str | None = None  # SELECT returning one number: the failing rows
    func: Callable[..., tuple[int, dict]] | None = None  # (con[, register]) -> (failing, meta)
    blocking: bool = True
    needs_register: bool = False  # func also gets the theme register's connection


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    failing: int
    metadata: dict

    @property
    def passed(self) -> bool:
        return self.failing == 0


def _grain(table: str, keys: tuple[str, ...]) -> Rule:
    cols = ", ".join(keys)
    return Rule(
        table,
        "grain_unique",
        f"Eine Zeile je ({cols}): keine doppelten Schlüssel.",
        f"select count(*) from (select {cols} from mart.{table} group by all having count(*) > 1)",
    )


def _no_free_text(con: duckdb.DuckDBPyConnection) -> tuple[int, dict]:
    """mart.cases carries declared columns only, none of them free text."""
    from data_contracts.contract import load_contract

    declared = set(load_mart_dictionary()["tables"]["cases"]["columns"])
    free_text = {c.name for t in load_contract().tables.values() for c in t.columns if c.free_text}
    free_text |= {"note", "notiz", "notes", "text", "comment", "kommentar", "bemerkung"}
    actual = {
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns()"
            " where schema_name = 'mart' and table_name = 'cases'"
            " and database_name = current_database()"
        ).fetchall()
    }
    bad = sorted((actual & free_text) | (actual - declared))
    # key and code columns hold pseudonyms and codes: nothing longer than 64 characters
    long_values = con.execute(
        "select count(*) from mart.cases where greatest("
        "length(coalesce(case_id, '')), length(coalesce(person_key, '')),"
        " length(coalesce(previous_case_id, '')), length(coalesce(caseworker_id, ''))) > 64"
    ).fetchall()[0][0]
    return len(bad) + long_values, {"columns": ", ".join(bad) or "—", "long_values": long_values}


def _fte_gaps(con: duckdb.DuckDBPyConnection) -> tuple[int, dict]:
    """The flag is right and no ratio divides by zero; the data gaps are reported, not failed:
    they are a finding about the deliveries, which the marts show (fte_missing)."""
    failing = 0
    for table in ("caseload", "caseload_by_caseworker"):
        failing += con.execute(
            f"""select count(*) from mart.{table}
               where fte_missing <> (case_days > 0 and fte_days = 0)
                  or (fte_days = 0 and (avg_caseload is not null
                                        or throughput_per_fte is not null))
                  or (fte_end = 0 and caseload_end is not null)
                  or isinf(avg_caseload) or isinf(caseload_end) or isinf(throughput_per_fte)
                  or isnan(avg_caseload) or isnan(caseload_end) or isnan(throughput_per_fte)"""
        ).fetchall()[0][0]
    gaps = con.execute(
        """select provider_id || ' / ' || program || ' / ' || region_code as grp,
                  count(distinct period) as quarters
           from mart.caseload where fte_missing and scope = 'alle'
           group by all order by quarters desc, grp"""
    ).fetchall()
    listed = "; ".join(f"{g} ({n} Quartale)" for g, n in gaps[:20])
    return failing, {"fte_gap_groups": len(gaps), "fte_gaps": listed or "keine"}


RULES: tuple[Rule, ...] = (
    # periods
    _grain("periods", ("period",)),
    Rule(
        "periods",
        "partial_only_at_as_of",
        "Nur das Quartal mit dem Datenstand darf unvollständig sein; Tage = gezählte Tage.",
        """select count(*) from mart.periods p cross join intermediate.params x
           where p.partial <> (x.as_of < p.period_end)
              or (p.partial and x.as_of not between p.period_start and p.period_end)
              or p.days <> (p.counted_until - p.period_start + 1)
              or p.counted_until > x.as_of""",
    ),
    # cases
    _grain("cases", ("provider_id", "case_id")),
    Rule(
        "cases",
        "no_free_text",
        "Nur pseudonyme Schlüssel und Codes, keine Freitextspalte (Notizen).",
        func=_no_free_text,
    ),
    Rule(
        "cases",
        "counts_consistent",
        "Ziele ohne Angebot ≤ Ziele, gescheiterte ≤ alle Vermittlungen, Wartezeit ≥ 0,"
        " letzter Kontakt nicht nach dem Datenstand, ohne Kontakt der Beginn. (Ein Kontakt vor"
        " dem Beginn ist erlaubt: das Austauschformat verbietet ihn nicht.)",
        # not `last_contact_on < opened_on`: a contact before the opening (an Erstgespräch
        # before the case was formally opened) is a valid row, and one provider's such row
        # failed every run (docs/decisions.md, „Lieferungen, die den Lauf für alle anhielten“)
        """select count(*) from mart.cases cross join intermediate.params x
           where goals_without_offer > goals or referrals_failed > referrals
              or max_wait_days < 0 or last_contact_on > x.as_of
              or (contacts = 0 and last_contact_on <> opened_on)
              or (closed_on is not null and closed_on < opened_on)""",
    ),
    Rule(
        "cases",
        "all_cases_present",
        "Jeder bis zum Datenstand begonnene Fall aus staging.cases ist genau einmal enthalten.",
        """select abs((select count(*) from mart.cases)
           - (select count(*) from staging.cases s cross join intermediate.params x
              where s.opened_on <= x.as_of))""",
    ),
    # caseload
    _grain("caseload", ("period", "provider_id", "program", "region_code", "scope")),
    _grain(
        "caseload_by_caseworker",
        ("period", "provider_id", "program", "region_code", "caseworker_id", "scope"),
    ),
    *(
        Rule(
            table,
            "components_non_negative",
            "Additive Komponenten (Tage, Falltage, VZÄ-Tage, Fälle) sind nicht negativ.",
            f"""select count(*) from mart.{table}
               where days <= 0 or case_days < 0 or fte_days < 0 or active_cases_end < 0
                  or fte_end < 0 or cases_in_period < 0 or cases_opened < 0
                  or cases_carried_over < 0 or cases_closed < 0""",
        )
        for table in ("caseload", "caseload_by_caseworker")
    ),
    *(
        Rule(
            table,
            "case_days_bounded",
            "Falltage ≤ Tage × Fälle im Zeitraum; Fälle zum Stichtag ≤ Fälle im Zeitraum;"
            " Fälle im Zeitraum = übernommene + neue Fälle.",
            f"""select count(*) from mart.{table}
               where case_days > days * cases_in_period
                  or active_cases_end > cases_in_period
                  or cases_closed > cases_in_period
                  or cases_in_period <> cases_carried_over + cases_opened
                  or (cases_in_period > 0 and case_days < cases_in_period)""",
        )
        for table in ("caseload", "caseload_by_caseworker")
    ),
    Rule(
        "caseload",
        "scopes_consistent",
        "Case-Management-Zeilen sind eine Teilmenge von »alle« mit demselben Personal.",
        """select count(*) from mart.caseload a
           join mart.caseload c using (period, provider_id, program, region_code)
           where a.scope = 'alle' and c.scope = 'case_management'
             and (c.case_days > a.case_days or c.cases_in_period > a.cases_in_period
                  or c.active_cases_end > a.active_cases_end
                  or abs(c.fte_days - a.fte_days) > 1e-6 or abs(c.fte_end - a.fte_end) > 1e-6)""",
    ),
    Rule(
        "caseload",
        "matches_caseworker_view",
        "Summe der Fachkraft-Zeilen = Zeile je Gruppe (Falltage, VZÄ-Tage, Fälle).",
        """with w as (
             select period, provider_id, program, region_code, scope,
               sum(case_days) cd, sum(fte_days) fd, sum(cases_in_period) n
             from mart.caseload_by_caseworker group by all)
           select count(*) from mart.caseload c
           full join w using (period, provider_id, program, region_code, scope)
           where w.cd is null or c.case_days is null or abs(c.case_days - w.cd) > 1e-6
              or abs(c.fte_days - w.fd) > 1e-6 or c.cases_in_period <> w.n""",
    ),
    Rule(
        "caseload",
        "case_days_match_cases",
        "Summe der Falltage (»alle«) = Summe der aktiven Tage aller Fälle bis zum Datenstand.",
        """select abs(
             coalesce((select sum(case_days) from mart.caseload where scope = 'alle'), 0)
             - coalesce((select sum(least(coalesce(closed_on, x.as_of), x.as_of)
                                  - opened_on + 1)
                         from mart.cases cross join intermediate.params x), 0)) > 0.5""",
    ),
    Rule(
        "caseload",
        "fte_gap_flagged",
        "Gruppen mit Fällen, aber ohne Personal sind als Datenlücke (fte_missing) gekennzeichnet"
        " und nie durch null geteilt; die Lücken selbst stehen in den Metadaten.",
        func=_fte_gaps,
    ),
    # supply gaps
    _grain("goals", ("provider_id", "case_id", "goal_id")),
    _grain("supply_gaps", ("period", "provider_id", "program", "region_code", "domain")),
    Rule(
        "supply_gaps",
        "counts_consistent",
        "Ziele ohne Angebot ≤ vereinbarte Ziele; Fälle mit Lücke ≤ Ziele ohne Angebot und > 0,"
        " wenn es solche Ziele gibt; Summe = Zahl der Ziele.",
        """select count(*) + abs((select coalesce(sum(goals_set), 0) from mart.supply_gaps)
                                 - (select count(*) from mart.goals))
           from mart.supply_gaps
           where goals_set <= 0 or goals_without_offer > goals_set
              or cases_with_gap > goals_without_offer
              or (goals_without_offer > 0) <> (cases_with_gap > 0)""",
    ),
    # referral waits
    _grain("referrals", ("provider_id", "case_id", "referral_id")),
    _grain("referral_waits", ("period", "provider_id", "program", "region_code", "service_type")),
    Rule(
        "referral_waits",
        "counts_consistent",
        "Kein Angebot + abgelehnt ≤ Vermittlungen; 0 ≤ Median ≤ 90. Perzentil;"
        " Wartezeiten genau dann, wenn etwas begonnen hat; Summen = Zahl der Vermittlungen.",
        """select count(*)
             + abs((select coalesce(sum(referrals), 0) from mart.referral_waits)
                   - (select count(*) from mart.referrals))
             + abs((select coalesce(sum(started), 0) from mart.referral_waits)
                   - (select count(*) from mart.referrals where started_on is not null))
           from mart.referral_waits
           where no_offer + rejected > referrals
              or wait_days_median < 0 or wait_days_median > wait_days_p90
              or (started > 0) <> (wait_days_median is not null)
              or waiting_at_end < 0""",
    ),
    _grain("structural_closures", ("period", "provider_id", "program", "region_code")),
    Rule(
        "structural_closures",
        "counts_consistent",
        "Strukturelle Abschlüsse ≤ Abschlüsse; Summe = abgeschlossene Fälle.",
        """select count(*) + abs((select coalesce(sum(closures), 0)
                                  from mart.structural_closures)
                                 - (select count(*) from mart.cases
                                    where closed_on is not null))
           from mart.structural_closures
           where structural_closures > closures or closures <= 0""",
    ),
    # re-entry
    _grain("scorecard", ("provider_id", "rule", "table_name", "column_name")),
    _grain("reentry", ("provider_id", "case_id")),
    Rule(
        "reentry",
        "consistent",
        "Wiederaufnahme ab Tag 15 und innerhalb der Nachbeobachtung; Übergabe an Tag 1–14;"
        " Rückfall nach dem Abschluss; eine Zeile je abgeschlossenem Fall.",
        """select count(*) + abs((select count(*) from mart.reentry)
                                 - (select count(*) from mart.cases
                                    where closed_on is not null))
           from mart.reentry r cross join intermediate.params x
           where r.followup_days < 0
              or r.reentry_days <= x.transfer_max_days or r.reentry_days > r.followup_days
              or (r.reentry_days is null) <> (r.reentry_via is null)
              or r.transfer_days < 1 or r.transfer_days > x.transfer_max_days
              or r.relapse_days < 1 or r.relapse_days > r.followup_days
              or r.relapses_during < 0
              or r.followup_days <> x.as_of - r.closed_on""",
    ),
)


def _themes_registered(con: duckdb.DuckDBPyConnection, register) -> tuple[int, dict]:
    """Every theme of the register is in mart.themes (the register is never pruned)."""
    ids = {r[0] for r in con.execute("select theme_id from mart.themes").fetchall()}
    registered = {r[0] for r in register.execute("select theme_id from themes").fetchall()}
    missing = sorted(registered - ids)
    return len(missing), {"missing_from_mart": len(missing), "examples": ", ".join(missing[:5])}


THEME_TABLES = ("themes", "theme_cases")

THEME_RULES: tuple[Rule, ...] = (
    _grain("themes", ("theme_id",)),
    Rule(
        "themes",
        "register_complete",
        "Alle Einträge des Themenspeichers stehen in mart.themes.",
        func=_themes_registered,
        needs_register=True,
    ),
    Rule(
        "themes",
        "thresholds_consistent",
        "Aktive Themen erfüllen die Schwellen (Fälle, Träger), inaktive nicht.",
        """select count(*) from mart.themes
           where active <> (cases >= min_cases and providers >= min_providers)""",
    ),
    Rule(
        "themes",
        "exemplary_cases_known",
        "Exemplarische Fälle sind Fälle des Themas im Fenster und stehen in mart.cases.",
        """select count(*) from mart.theme_cases t
           where t.exemplary_rank is not null and not exists (
             select 1 from mart.cases c
             where c.provider_id = t.provider_id and c.case_id = t.case_id)""",
    ),
    Rule(
        "themes",
        "no_free_text",
        "Datenschutz: Themen tragen nur einzelne Begriffe und pseudonyme Schlüssel, nie Notiztext.",
        """select (select count(*) from duckdb_columns()
                   where schema_name = 'mart' and table_name in ('themes', 'theme_cases')
                     and database_name = current_database()
                     and column_name in ('note', 'notiz', 'notes', 'text'))
                + (select count(*) from (select unnest(terms) as term from mart.themes)
                   where not regexp_full_match(term, '\\p{L}+') or length(term) > 60)""",
    ),
)


def run_rule(con: duckdb.DuckDBPyConnection, rule: Rule, register=None) -> Outcome:
    """Run one rule; `register` is the theme register's connection for rules that need it."""
    if rule.func is not None:
        args = (con, register) if rule.needs_register else (con,)
        failing, metadata = rule.func(*args)
    else:
        failing = int(con.execute(rule.sql).fetchall()[0][0] or 0)
        metadata = {}
    return Outcome(rule, int(failing), {"failing_rows": int(failing), **metadata})


def run_checks(con: duckdb.DuckDBPyConnection, table: str | None = None) -> list[Outcome]:
    """Run every mart rule (or those of one mart table); theme rules run with the themes."""
    return [run_rule(con, r) for r in RULES if table is None or r.table == table]
