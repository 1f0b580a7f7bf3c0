"""The whole synthetic network in memory, and its tables per provider as Arrow.

`build_dataset` draws everything (cases, staffing, goals, referrals, contacts, barriers,
notes, relapses) with one seeded numpy Generator; `Dataset.provider_tables` turns one
provider's slice into Arrow tables with the contract's column names and types, optionally cut
back to an earlier snapshot date (what the provider's software would have exported then).
`Dataset.frames` gives pandas frames of the whole network for tests and calibration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import load_contract
from generator.activities import (
    Barriers,
    Contacts,
    Goals,
    Referrals,
    Relapses,
    make_barriers,
    make_contacts,
    make_goals,
    make_referrals,
    make_relapses,
)
from generator.catalog import NA, code_index, codes
from generator.ids import seq_ids
from generator.notes import TOPICS, make_notes
from generator.population import Cases, Groups, build_groups, generate_cases
from generator.providers import ProviderSpec, build_providers
from generator.staffing import Staffing, assign_caseworkers, build_staffing

EPOCH = date(1970, 1, 1)
TABLES = ("cases", "goals", "referrals", "contacts", "barriers", "staffing", "relapses")
LOCAL_PAIR_CASES = 3  # cases with the rare local pair (diskriminierung, gesundheit_psychisch)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def to_date(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


@dataclass
class Dataset:
    providers: list[ProviderSpec]
    groups: Groups
    cases: Cases
    staffing: Staffing
    goals: Goals
    referrals: Referrals
    contacts: Contacts
    barriers: Barriers
    notes: np.ndarray
    relapses: Relapses
    start: int
    exported: int
    seed: int

    @property
    def exported_on(self) -> date:
        return to_date(self.exported)

    # --- per provider -----------------------------------------------------------------

    def _case_range(self, p: int) -> tuple[int, int]:
        return (
            int(np.searchsorted(self.cases.provider, p, "left")),
            int(np.searchsorted(self.cases.provider, p, "right")),
        )

    def provider_tables(self, p: int, cut: int | None = None) -> dict[str, pa.Table]:
        """Arrow tables (contract columns) of provider `p`, as exported on `cut` (default: all)."""
        c0, c1 = self._case_range(p)
        as_of = self.exported if cut is None else cut
        cs = self.cases
        case_rows = np.arange(c0, c1)
        case_rows = case_rows[cs.opened[case_rows] <= as_of]

        def child(case: np.ndarray) -> np.ndarray:
            return np.arange(
                int(np.searchsorted(case, c0, "left")), int(np.searchsorted(case, c1, "left"))
            )

        pid_dict = pa.array([pr.provider_id for pr in self.providers])
        out: dict[str, pa.Table] = {}
        closed = np.where(cs.closed[case_rows] > as_of, NA, cs.closed[case_rows])
        reason = np.where(closed == NA, NA, cs.close_reason[case_rows])
        prev = cs.prev[case_rows]
        out["cases"] = _table(
            "cases",
            {
                "provider_id": _const(pid_dict, p, len(case_rows)),
                "case_id": cs.case_id.take(pa.array(case_rows)),
                "person_key": cs.person_key.take(pa.array(case_rows)),
                "program": _codes("program", cs.program[case_rows]),
                "region_code": _dict(self.groups.regions, cs.region[case_rows]),
                "caseworker_id": self.staffing.caseworker_id.take(
                    pa.array(cs.caseworker[case_rows])
                ),
                "opened_on": _dates(cs.opened[case_rows]),
                "closed_on": _dates(closed),
                "intensity": _codes("intensity", cs.intensity[case_rows]),
                "age_group": _codes("age_group", cs.age[case_rows]),
                "gender": _codes("gender", cs.gender[case_rows]),
                "referral_source": _codes("referral_source", cs.source[case_rows]),
                "close_reason": _codes("close_reason", reason),
                "previous_case_id": _take_or_null(cs.case_id, prev),
                "risk_level": _codes("risk_level", cs.risk[case_rows]),
                "phenomenon": _codes("phenomenon", cs.phenomenon[case_rows]),
            },
        )
        open_at_cut = np.ones(len(cs), dtype=bool)
        open_at_cut[case_rows] = closed == NA

        g = self.goals
        rows = child(g.case)
        rows = rows[g.set_on[rows] <= as_of]
        status_on = np.where(g.status_on[rows] > as_of, NA, g.status_on[rows])
        status = np.where(
            (status_on == NA) & open_at_cut[g.case[rows]] & (cut is not None),
            code_index("goal_status", "offen"),
            g.status[rows],
        )
        out["goals"] = _table(
            "goals",
            {
                "provider_id": _const(pid_dict, p, len(rows)),
                "case_id": cs.case_id.take(pa.array(g.case[rows])),
                "goal_id": seq_ids("Z", g.number[rows]),
                "domain": _codes("domain", g.domain[rows]),
                "set_on": _dates(g.set_on[rows]),
                "due_on": _dates(g.due_on[rows]),
                "status": _codes("goal_status", status),
                "status_on": _dates(status_on),
                "offer_available": pa.array(g.offer[rows]),
            },
        )

        r = self.referrals
        rows = child(r.case)
        rows = rows[r.requested_on[rows] <= as_of]
        started = np.where(r.started_on[rows] > as_of, NA, r.started_on[rows])
        later_start = (r.started_on[rows] != NA) & (started == NA)
        outcome = np.where(
            later_start, code_index("referral_outcome", "warteliste"), r.outcome[rows]
        )
        gnum = r.goal_number[rows]
        out["referrals"] = _table(
            "referrals",
            {
                "provider_id": _const(pid_dict, p, len(rows)),
                "case_id": cs.case_id.take(pa.array(r.case[rows])),
                "referral_id": seq_ids("V", r.number[rows]),
                "goal_id": _mask(seq_ids("Z", np.where(gnum == NA, 1, gnum)), gnum == NA),
                "service_type": _codes("service_type", r.service[rows]),
                "requested_on": _dates(r.requested_on[rows]),
                "started_on": _dates(started),
                "outcome": _codes("referral_outcome", outcome),
            },
        )

        k = self.contacts
        rows = child(k.case)
        rows = rows[k.day[rows] <= as_of]
        out["contacts"] = _table(
            "contacts",
            {
                "provider_id": _const(pid_dict, p, len(rows)),
                "case_id": cs.case_id.take(pa.array(k.case[rows])),
                "contact_on": _dates(k.day[rows]),
                "step": _codes("step", k.step[rows]),
            },
        )

        b = self.barriers
        rows = child(b.case)
        rows = rows[b.noted_on[rows] <= as_of]
        out["barriers"] = _table(
            "barriers",
            {
                "provider_id": _const(pid_dict, p, len(rows)),
                "case_id": cs.case_id.take(pa.array(b.case[rows])),
                "noted_on": _dates(b.noted_on[rows]),
                "barrier_code": _codes("barrier", b.code[rows]),
                "domain": _codes("domain", b.domain[rows]),
                "note": pa.array(self.notes[rows], type=pa.string()),
            },
        )

        s = self.staffing
        rows = np.arange(
            int(np.searchsorted(s.provider, p, "left")),
            int(np.searchsorted(s.provider, p, "right")),
        )
        rows = rows[s.valid_from[rows] <= as_of]
        valid_to = np.where(s.valid_to[rows] > as_of, NA, s.valid_to[rows])
        out["staffing"] = _table(
            "staffing",
            {
                "provider_id": _const(pid_dict, p, len(rows)),
                "caseworker_id": s.caseworker_id.take(pa.array(rows)),
                "program": _codes("program", self.groups.program[s.group[rows]]),
                "region_code": _dict(self.groups.regions, self.groups.region[s.group[rows]]),
                "valid_from": _dates(s.valid_from[rows]),
                "valid_to": _dates(valid_to),
                "fte": pa.array(s.fte[rows]),
            },
        )

        rl = self.relapses
        rows = child(rl.case)
        rows = rows[rl.day[rows] <= as_of]
        out["relapses"] = _table(
            "relapses",
            {
                "provider_id": _const(pid_dict, p, len(rows)),
                "case_id": cs.case_id.take(pa.array(rl.case[rows])),
                "event_on": _dates(rl.day[rows]),
                "kind": _codes("relapse_kind", rl.kind[rows]),
                "source": _codes("relapse_source", rl.source[rows]),
            },
        )
        return out

    # --- whole network (tests, calibration) ----------------------------------------------

    def frames(self) -> dict:
        """pandas DataFrames of all providers (contract columns, dates as datetime64)."""
        import pandas as pd

        parts: dict[str, list] = {t: [] for t in TABLES}
        for p in range(len(self.providers)):
            for name, table in self.provider_tables(p).items():
                parts[name].append(table)
        out = {}
        for name, tables in parts.items():
            df = pa.concat_tables(tables).to_pandas()
            for col in df.columns:
                if col.endswith("_on") or col in ("valid_from", "valid_to"):
                    df[col] = pd.to_datetime(df[col])
                elif isinstance(df[col].dtype, pd.CategoricalDtype):
                    df[col] = df[col].astype(object).where(df[col].notna(), None)
            out[name] = df
        out["barriers"]["topic"] = np.array(TOPICS, dtype=object)[self.barriers.topic]
        return out


# --- Arrow helpers -----------------------------------------------------------------------


def _dates(days: np.ndarray) -> pa.Array:
    days = np.asarray(days, dtype=np.int32)
    return pa.array(days, type=pa.int32(), mask=days == NA).cast(pa.date32())


def _codes(code_list: str, idx: np.ndarray) -> pa.DictionaryArray:
    idx = np.asarray(idx, dtype=np.int16)
    return pa.DictionaryArray.from_arrays(pa.array(idx, mask=idx == NA), pa.array(codes(code_list)))


def _dict(values: tuple[str, ...], idx: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(idx, dtype=np.int16)), pa.array(values)
    )


def _const(dictionary: pa.Array, index: int, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.full(n, index, dtype=np.int16)), dictionary)


def _mask(arr: pa.Array, null: np.ndarray) -> pa.Array:
    if not null.any():
        return arr
    return pc.if_else(pa.array(null), pa.scalar(None, arr.type), arr)


def _take_or_null(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return arr.take(pa.array(idx, mask=idx == NA))


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    expected = load_contract().tables[name].column_names
    if list(columns) != expected:
        raise AssertionError(f"{name}: columns {list(columns)} != contract {expected}")
    return pa.table(columns)


# --- build -------------------------------------------------------------------------------


def build_dataset(
    cases: int,
    providers: int,
    seed: int = 1,
    exported_on: date = date(2026, 10, 15),
    years: float = 4.0,
    plain: bool = False,
) -> Dataset:
    """Draw the whole network (deterministic for the same arguments)."""
    rng = np.random.default_rng(seed)
    key = int(rng.integers(1, 2**31))
    specs = build_providers(providers, plain=plain)
    groups = build_groups(specs)
    exported = day_number(exported_on)
    start = exported - round(years * 365.25)
    cs = generate_cases(rng, specs, groups, cases, start, exported, key)
    staffing = build_staffing(rng, specs, groups, cs, start, exported, key)
    cs.caseworker = assign_caseworkers(rng, groups, cs, staffing, exported)
    goals = make_goals(rng, cs, specs, start, exported)
    referrals = make_referrals(rng, cs, goals, exported)
    contacts = make_contacts(rng, cs, goals, referrals, exported)
    barriers = make_barriers(rng, cs, goals, specs, LOCAL_PAIR_CASES if len(specs) >= 2 else 0)
    notes = make_notes(rng, barriers.topic, barriers.code, barriers.domain)
    relapses = make_relapses(rng, cs, exported)
    return Dataset(
        providers=specs,
        groups=groups,
        cases=cs,
        staffing=staffing,
        goals=goals,
        referrals=referrals,
        contacts=contacts,
        barriers=barriers,
        notes=notes,
        relapses=relapses,
        start=start,
        exported=exported,
        seed=seed,
    )
