"""The synthetic providers (Träger): ids, programs, regions, size and export format.

The first eight are drawn by hand so that the demo (P=8) shows every program (KIM, JMD, MBE,
exit/distancing), every export format and every planted peculiarity; beyond eight, providers
are derived from a fixed order of NRW Kreise, so ids never depend on the seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_contracts import region_names

FORMAT_LABELS = {
    "a": "CSV Windows-1252, Semikolon, deutsche Kopfzeilen, TT.MM.JJJJ, Dezimalkomma, ja/nein, "
    "CRLF",
    "b": "CSV UTF-8 mit BOM, Komma, englische Kopfzeilen, ISO-Datum, true/false",
    "c": "XLSX, ein Blatt je Tabelle, deutsche Kopfzeilen, echte Datumszellen",
    "d": "ZIP mit CSV (UTF-8, Komma, englische Kopfzeilen, ISO-Datum, 1/0)",
    "e": "CSV UTF-8, Semikolon, Kopfzeilen mit Großschreibung/Leerzeichen, leere Schlussspalte, "
    "x/leer",
    "plain": "CSV UTF-8, Komma, englische Kopfzeilen, ISO-Datum, true/false",
}


@dataclass(frozen=True)
class Group:
    """One (program, region) a provider works in; cases are drawn by `weight`."""

    program: str
    region: str
    weight: float
    staffed: bool = True  # False: cases but no staffing rows (a data gap the dashboards flag)


@dataclass(frozen=True)
class ProviderSpec:
    index: int
    provider_id: str
    groups: tuple[Group, ...]
    size: float  # relative number of cases
    variant: str  # a..e (see FORMAT_LABELS) or "plain"
    manifest: bool
    software: str
    keyless: float  # share of cases without person_key
    overloaded: bool = False  # ~80 cases per FTE instead of 50-60
    rural_topic: bool = False  # carries the local text topic (Fahrtkosten/Busanbindung)
    omit_person_key: bool = False  # the export has no person_key column at all

    @property
    def programs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.program for g in self.groups))

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.region for g in self.groups))

    @property
    def has_pcve(self) -> bool:
        return "pcve" in self.programs


G = Group
_BLUEPRINT = (
    # id, groups, size, variant, manifest, software, keyless, overloaded, rural
    (
        "kim-koeln",
        (G("kim", "05315", 1.0),),
        1.5,
        "a",
        True,
        "OpenProsoz 7.2 (Export)",
        0.15,
        False,
        False,
    ),
    (
        "jmd-dortmund",
        (
            G("jmd", "05913", 0.62),
            G("jmd", "05978", 0.345),
            G("jmd", "05915", 0.035, staffed=False),
        ),
        1.2,
        "b",
        True,
        "i-mpuls JMD 4.1",
        0.18,
        True,
        False,
    ),
    (
        "mbe-bielefeld",
        (G("mbe", "05711", 0.7), G("mbe", "05754", 0.3)),
        1.0,
        "e",
        False,
        "MBEon-Export 1.8",
        0.20,
        False,
        False,
    ),
    (
        "pcve-nrw-west",
        (G("pcve", "05111", 0.4), G("pcve", "05113", 0.35), G("pcve", "05112", 0.25)),
        0.45,
        "d",
        True,
        "Distanz-Doku 3.0",
        0.45,
        False,
        False,
    ),
    ("kim-lippe", (G("kim", "05766", 1.0),), 0.3, "c", False, "Excel (manuell)", 1.0, False, True),
    (
        "jmd-wuppertal",
        (G("jmd", "05124", 0.6), G("mbe", "05124", 0.25), G("jmd", "05122", 0.15)),
        0.9,
        "a",
        False,
        "i-mpuls JMD 4.0",
        0.15,
        False,
        False,
    ),
    (
        "mbe-muenster",
        (G("mbe", "05515", 0.55), G("jmd", "05515", 0.25), G("mbe", "05566", 0.2)),
        0.8,
        "b",
        True,
        "MBEon-Export 1.9",
        0.20,
        False,
        False,
    ),
    (
        "kim-recklinghausen",
        (G("kim", "05562", 0.8), G("kim", "05512", 0.2)),
        1.0,
        "d",
        False,
        "OpenProsoz 7.1 (Export)",
        0.18,
        False,
        False,
    ),
)

_CYCLE_PROGRAMS = ("kim", "mbe", "jmd", "kim", "jmd", "mbe", "pcve")
_CYCLE_VARIANTS = ("b", "a", "e", "d", "b", "a")
_SOFTWARE = {
    "kim": "OpenProsoz 7.2 (Export)",
    "jmd": "i-mpuls JMD 4.1",
    "mbe": "MBEon-Export 1.9",
    "pcve": "Distanz-Doku 3.0",
}
_PCVE_AREAS = ("ost", "sued", "nord", "mitte", "ruhr", "rheinland", "westfalen")


def slug(name: str) -> str:
    s = name.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        s = s.replace(a, b)
    s = re.sub(r"^(kreis|staedteregion|rhein-kreis)\s+", "", s)
    s = re.sub(r"-?kreis$", "", s)
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


def build_providers(count: int, plain: bool = False) -> list[ProviderSpec]:
    """The first `count` providers (deterministic, independent of the seed)."""
    regions = list(region_names())
    used = {g.region for bp in _BLUEPRINT for g in bp[1]}
    pool = [r for r in regions if r not in used] + [r for r in regions if r in used]
    out: list[ProviderSpec] = []
    ids: set[str] = set()
    for i in range(count):
        if i < len(_BLUEPRINT):
            pid, groups, size, variant, manifest, software, keyless, overloaded, rural = _BLUEPRINT[
                i
            ]
        else:
            j = i - len(_BLUEPRINT)
            program = _CYCLE_PROGRAMS[j % len(_CYCLE_PROGRAMS)]
            home = pool[(j * 7) % len(pool)]
            second = pool[(j * 7 + 1) % len(pool)]
            if program == "pcve":
                area = _PCVE_AREAS[(j // len(_CYCLE_PROGRAMS)) % len(_PCVE_AREAS)]
                pid = f"pcve-nrw-{area}"
                groups = (G("pcve", home, 0.6), G("pcve", second, 0.4))
            else:
                pid = f"{program}-{slug(region_names()[home])}"
                if j % 3 == 1:
                    other = "mbe" if program != "mbe" else "jmd"
                    groups = (G(program, home, 0.75), G(other, home, 0.25))
                elif j % 3 == 2:
                    groups = (G(program, home, 0.7), G(program, second, 0.3))
                else:
                    groups = (G(program, home, 1.0),)
            size = 0.6 + ((j * 37) % 11) / 10  # 0.6 .. 1.6
            variant = _CYCLE_VARIANTS[j % len(_CYCLE_VARIANTS)]
            manifest = j % 2 == 0
            software = _SOFTWARE[program]
            keyless = 0.45 if program == "pcve" else 0.12 + (j % 4) * 0.03
            overloaded = rural = False
        base, n = pid, 2
        while pid in ids:
            pid = f"{base}-{n}"
            n += 1
        ids.add(pid)
        out.append(
            ProviderSpec(
                index=i,
                provider_id=pid,
                groups=tuple(groups),
                size=size,
                variant="plain" if plain else variant,
                manifest=True if plain else manifest,
                software=software,
                keyless=keyless,
                overloaded=overloaded,
                rural_topic=rural,
                omit_person_key=(keyless >= 1.0 and not plain),
            )
        )
    if count < len(_BLUEPRINT) and not any(p.rural_topic for p in out):
        # the local text topic needs a home even in small networks: the last provider
        last = out[-1]
        out[-1] = ProviderSpec(**{**last.__dict__, "rural_topic": True})
    return out
