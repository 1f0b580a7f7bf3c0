"""Stable theme ids.

Coded themes: the id follows from the (barrier_code, domain) pair, ``T-<barrier>-<domain>``.

Text themes: a topic model has no natural key, so a topic of this run keeps the id of a
registered text theme when their top terms agree: Jaccard similarity of the two sets of term
keys (top ``TOP_TERMS`` each) at least ``MATCH_THRESHOLD``. Pairs are matched greedily, the
most similar first (ties by theme id, then topic number), one to one. A topic without a match
gets a new id from its two strongest terms, ``T-text-<term1>-<term2>`` (``-2``, ``-3`` ... when
taken). Registered themes are compared by the terms of their latest match, so a theme may
drift slowly with the notes but never jump to a different subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from transforms.themes.text import fold

MATCH_THRESHOLD = 0.3
NO_DOMAIN = "ohne_bereich"


def coded_theme_id(barrier_code: str, domain: str | None) -> str:
    return f"T-{barrier_code}-{domain or NO_DOMAIN}"


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def match_topics(
    current: Mapping[int, Sequence[str]],
    previous: Mapping[str, Sequence[str]],
    threshold: float = MATCH_THRESHOLD,
) -> dict[int, str]:
    """topic number -> previous theme id, for topics whose term keys match a previous theme."""
    pairs = []
    for topic, keys in current.items():
        for theme_id, prev_keys in previous.items():
            sim = jaccard(keys, prev_keys)
            if sim >= threshold:
                pairs.append((-sim, theme_id, topic))
    pairs.sort()
    matched: dict[int, str] = {}
    used: set[str] = set()
    for _neg_sim, theme_id, topic in pairs:
        if topic in matched or theme_id in used:
            continue
        matched[topic] = theme_id
        used.add(theme_id)
    return matched


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", fold(key))


def new_text_theme_id(keys: Sequence[str], taken: Iterable[str]) -> str:
    taken = set(taken)
    parts = [_slug(k) for k in keys[:2] if _slug(k)] or ["thema"]
    base = "T-text-" + "-".join(parts)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
