"""Small-number suppression (statistische Geheimhaltung) of single tables.

Every output meant to leave the coordinating office (all reports and their XLSX tables, the
dashboard for the roles `foerderer` and `traeger`, and any export a user marks for
publication) passes its tables through `suppress()`; nothing else hides small numbers.
Rules (../shared/spec/metrics.md, "Small numbers"):

* primary suppression: a count from 1 to k-1 is hidden (k = 3 by default, from
  `Settings.suppression_k`);
* a rate (or any value derived from counts: a mean, a median, a caseload) is suppressed when
  one of its basis counts is below k — numerator and denominator, 0 included — or when one of
  them is itself suppressed in the table (otherwise rate × denominator gives the count back);
* secondary suppression: every group of cells that adds up to a published total (a row or a
  column with a total; in long tables a "margin": the rows that share the values of some
  dimension columns) must not contain exactly one suppressed cell, because the total minus
  the visible cells would reveal it. Where it does, the next smallest cell of the group (the
  smallest positive visible one, else a visible zero) is suppressed too, repeated until no
  group changes — a secondary suppression in a row can leave a column with a single
  suppressed cell, which is then treated the same way;
* the output says that suppression was applied and with which k (`note()`).

Every hidden value reads ``x``, primary or secondary (a ``<k`` for primary cells told which
hidden counts are small, and marks alone then pinned some: docs/decisions.md, „Eine Marke
für jede verborgene Zahl“). The publication grid (`from_grid`) is what readers get; the
per-table rules here stay for hand-made tables. These are pure functions on
pandas DataFrames, tested with hand-made tables in tests/unit/test_disclosure.py, including a
subtraction attack checked by linear programming.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_K = 3
SECONDARY_MARK = "x"
RATE_MARK = "x"
MISSING_MARK = "–"

PRIMARY = "primary"
SECONDARY = "secondary"
RATE = "rate"


def note(k: int) -> str:
    """The German statement every suppressed output carries (its outputs come from the
    publication grid, `from_grid`: one mark for every hidden number)."""
    return (
        f"Statistische Geheimhaltung angewendet (k = {k}): Fallzahlen von 1 bis {k - 1}, Werte, "
        f"aus denen sich eine solche errechnen ließe (sekundäre Geheimhaltung), und Quoten und "
        f"abgeleitete Werte (Mittelwerte, Mediane, Fallzahl je VZÄ), deren Zähler oder Nenner "
        f"unter {k} liegt oder geheim ist, sind als „{SECONDARY_MARK}“ ausgewiesen. Ein "
        f"„{SECONDARY_MARK}“ steht für 1 oder mehr; 0 wird gezeigt."
    )


def internal_note() -> str:
    return (
        "Interne Ansicht ohne statistische Geheimhaltung – nicht zur Weitergabe außerhalb der "
        "Koordinierungsstelle bestimmt."
    )


# ---------------------------------------------------------------------------------------------
# single values


def is_small(value, k: int) -> bool:
    """A count that primary suppression hides: 1 <= value < k."""
    if value is None or _isnan(value):
        return False
    return 1 <= value < k


def _isnan(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def rate_hidden(numerator, denominator, k: int) -> bool:
    """A rate is suppressed when its numerator or its denominator is below k."""
    return any(v is None or _isnan(v) or v < k for v in (numerator, denominator))


def format_number(value, digits: int = 0) -> str:
    """German number format: 1.234 / 12,5; missing as '–'."""
    if value is None or _isnan(value):
        return MISSING_MARK
    if isinstance(value, str):
        return value
    text = f"{round(float(value)):,.0f}" if digits == 0 else f"{float(value):,.{digits}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def format_count(value, k: int | None = None) -> str:
    """A count for display; with k, a small count is hidden ('x', as every hidden count)."""
    if k is not None and is_small(value, k):
        return SECONDARY_MARK
    return format_number(value)


def format_percent(value, digits: int = 1) -> str:
    """A share (0..1) as German percent: 0.123 -> '12,3 %'."""
    if value is None or _isnan(value) or (isinstance(value, float) and math.isinf(value)):
        return MISSING_MARK
    if isinstance(value, str):
        return value
    return f"{format_number(float(value) * 100, digits)} %"


# ---------------------------------------------------------------------------------------------
# tables


@dataclass
class Published:
    """A table ready to be shown or exported.

    `table` holds numbers where a value may be shown and the marker ``x`` where it may not;
    `flags` has the same shape with '' / 'primary' / 'secondary' / 'rate'. `k` is
    None for an internal (unsuppressed) table.
    """

    table: pd.DataFrame
    flags: pd.DataFrame
    k: int | None

    @property
    def suppressed(self) -> bool:
        return self.k is not None

    def rows(self, mask) -> Published:
        """The rows selected by a boolean mask or an index order (table and flags together)."""
        if np.asarray(mask).dtype == bool:
            mask = np.asarray(mask, dtype=bool)
            table, flags = self.table[mask], self.flags[mask]
        else:
            table, flags = self.table.iloc[list(mask)], self.flags.iloc[list(mask)]
        return Published(table.reset_index(drop=True), flags.reset_index(drop=True), self.k)

    def hide(self, rows, columns: Sequence[str]) -> Published:
        """The same table with the given derived values hidden ('x') in the given rows."""
        table, flags = self.table.astype(object).copy(), self.flags.copy()
        rows = np.asarray(rows, dtype=bool)
        for col in columns:
            defined = table[col].notna().to_numpy() & rows
            table.loc[defined, col] = RATE_MARK
            flags.loc[defined, col] = RATE
        return Published(table, flags, self.k)

    def drop(self, columns: Sequence[str]) -> Published:
        keep = [c for c in self.table.columns if c not in columns]
        return Published(self.table[keep], self.flags[keep], self.k)

    @property
    def hidden_cells(self) -> int:
        return int((self.flags != "").to_numpy().sum())

    def note(self) -> str:
        return note(self.k) if self.k is not None else internal_note()

    def display(
        self,
        percent: Sequence[str] = (),
        decimals: Mapping[str, int] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """All cells as German-formatted strings (for st.dataframe and HTML tables).

        `percent` columns hold shares (0..1); `decimals` gives digits for other numeric
        columns (default 0 for numbers); `labels` renames columns for display.
        """
        decimals = dict(decimals or {})
        out = pd.DataFrame(index=self.table.index)
        for col in self.table.columns:
            series = self.table[col]
            if col in percent:
                out[col] = [format_percent(v) for v in series]
            elif (
                pd.api.types.is_numeric_dtype(series.dtype)
                or col in decimals
                or _mixed_numeric(series)
            ):
                d = decimals.get(col, 0)
                out[col] = [
                    v if isinstance(v, str) else format_number(v, d) if _is_num(v) else _text(v)
                    for v in series
                ]
            else:
                out[col] = [_text(v) for v in series]
        out = out.astype("string")
        if labels:
            out = out.rename(columns=dict(labels))
        return out.reset_index(drop=True)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _mixed_numeric(series: pd.Series) -> bool:
    return series.dtype == object and any(_is_num(v) for v in series)


def _text(v) -> str:
    if v is None or _isnan(v):
        return MISSING_MARK
    if isinstance(v, (bool, np.bool_)):
        return "ja" if v else "nein"
    if hasattr(v, "isoformat"):
        try:
            return v.strftime("%d.%m.%Y")
        except (AttributeError, ValueError):
            return str(v)
    return str(v)


def unsuppressed(df: pd.DataFrame) -> Published:
    """An internal table: nothing hidden (koordination, evaluation in the dashboard)."""
    df = df.reset_index(drop=True)
    return Published(df.copy(), pd.DataFrame("", index=df.index, columns=df.columns), None)


def primary_mask(values: pd.Series, k: int) -> pd.Series:
    """Cells with a count from 1 to k-1."""
    v = pd.to_numeric(values, errors="coerce")
    return ((v >= 1) & (v < k)).fillna(False).astype(bool)


def _groups(
    df: pd.DataFrame, margins: Sequence[Sequence[str]], total_mask: pd.Series
) -> list[np.ndarray]:
    """Row positions of every margin group (rows that add up to one published total)."""
    body = np.flatnonzero(~total_mask.to_numpy())
    groups: list[np.ndarray] = []
    if len(body) == 0:
        return groups
    for margin in margins:
        margin = list(margin)
        if not margin:
            groups.append(body)
            continue
        sub = df.iloc[body]
        keys = sub[margin].astype("string").fillna("\x00").agg("\x1f".join, axis=1)
        for _, idx in pd.Series(body, index=keys.index).groupby(keys.to_numpy()):
            groups.append(idx.to_numpy())
    return groups


def secondary_mask(
    values: pd.Series,
    mask: pd.Series,
    groups: Sequence[np.ndarray],
) -> pd.Series:
    """Extend `mask` until no group holds exactly one suppressed cell.

    `values` are the true counts, `groups` row positions whose values add up to a published
    total. The partner chosen is the smallest positive visible cell of the group, else a
    visible zero; a group without any other cell cannot be protected here (its total equals
    the cell and is itself below k, so it is suppressed wherever it is shown).
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    m = mask.to_numpy(dtype=bool).copy()
    changed = True
    while changed:
        changed = False
        for g in groups:
            if len(g) < 2:
                continue
            if m[g].sum() != 1:
                continue
            visible = [i for i in g if not m[i] and not np.isnan(v[i])]
            if not visible:
                continue
            positive = [i for i in visible if v[i] > 0]
            pool = positive or visible
            partner = min(pool, key=lambda i: (v[i], i))
            m[partner] = True
            changed = True
    return pd.Series(m, index=mask.index)


def suppress(
    df: pd.DataFrame,
    counts: Sequence[str],
    k: int = DEFAULT_K,
    *,
    rates: Mapping[str, Sequence[str]] | None = None,
    margins: Sequence[Sequence[str]] = ((),),
    row_sums: Mapping[str, Sequence[str]] | None = None,
    total_mask: pd.Series | None = None,
) -> Published:
    """Apply primary, rate and secondary suppression to a table.

    df          the table with true values (one row per cell combination, plus total rows)
    counts      count columns: primary and secondary suppression apply
    rates       derived column -> the count columns it is computed from (numerator and
                denominator, or the case count behind a mean or median); suppressed when one
                of those is below k or suppressed. Basis columns need not be displayed.
    margins     for each count column, groups of rows that add up to a published total:
                each entry is a list of dimension columns whose equal values form a group;
                `()` is the whole column (default: every column has a published total).
    row_sums    total column -> part columns within the same row (a row with a total)
    total_mask  marks total rows (Gesamt); they are suppressed like any cell but are not
                members of the margin groups (they are what the groups add up to)
    """
    df = df.reset_index(drop=True)
    if total_mask is None:
        total_mask = pd.Series(False, index=df.index)
    else:
        total_mask = pd.Series(np.asarray(total_mask, dtype=bool), index=df.index)
    rates = dict(rates or {})
    row_sums = dict(row_sums or {})
    counts = list(counts)
    for col in [*counts, *rates, *(c for cs in rates.values() for c in cs)]:
        if col not in df.columns:
            raise KeyError(f"Spalte {col!r} fehlt in der Tabelle")

    masks = {c: primary_mask(df[c], k) for c in counts}
    primary = {c: m.copy() for c, m in masks.items()}
    groups = _groups(df, margins, total_mask)

    # iterate column groups and row sums together until nothing changes
    while True:
        before = sum(int(m.sum()) for m in masks.values())
        for c in counts:
            masks[c] = secondary_mask(df[c], masks[c], groups)
        for total_col, parts in row_sums.items():
            cols = [total_col, *parts]
            cols = [c for c in cols if c in masks]
            parts_only = [c for c in parts if c in masks]
            for i in df.index:
                hidden = [c for c in parts_only if masks[c].iat[i]]
                total_hidden = total_col in masks and masks[total_col].iat[i]
                if len(hidden) == 1 and not total_hidden:
                    visible = [c for c in parts_only if not masks[c].iat[i]]
                    vals = {c: _num(df[c].iat[i]) for c in visible}
                    vals = {c: x for c, x in vals.items() if not math.isnan(x)}
                    if vals:
                        positive = {c: x for c, x in vals.items() if x > 0} or vals
                        partner = min(positive, key=lambda c: (positive[c], cols.index(c)))
                        masks[partner].iat[i] = True
        after = sum(int(m.sum()) for m in masks.values())
        if after == before:
            break

    return with_pattern(df, k, primary, masks, rates)


def with_pattern(
    df: pd.DataFrame,
    k: int,
    primary: Mapping[str, pd.Series],
    hidden: Mapping[str, pd.Series],
    rates: Mapping[str, Sequence[str]],
) -> Published:
    """A table with a decided suppression pattern: counts hidden where `hidden` says, each as
    ``x`` (flagged primary where `primary` says, else secondary), and every derived column
    hidden where one of its basis counts is below k or hidden. One mark for every hidden
    count: "<k" beside "x" told a reader which hidden counts are small, and a "<3" total of
    two "<3" parts is 1 + 1 (docs/decisions.md, „Eine Marke für jede verborgene Zahl“)."""
    df = df.reset_index(drop=True)
    masks = {c: pd.Series(np.asarray(m, dtype=bool), index=df.index) for c, m in hidden.items()}
    table = df.astype(object).copy()
    flags = pd.DataFrame("", index=df.index, columns=df.columns)
    for c, m in masks.items():
        prim = np.asarray(primary[c], dtype=bool)
        sec = m.to_numpy() & ~prim
        table.loc[prim | sec, c] = SECONDARY_MARK
        flags.loc[prim, c] = PRIMARY
        flags.loc[sec, c] = SECONDARY
    for rate_col, basis in rates.items():
        hide = np.zeros(len(df), dtype=bool)
        for b in basis:
            vals = pd.to_numeric(df[b], errors="coerce")
            hide |= (vals.isna() | (vals < k)).to_numpy()
            if b in masks:
                hide |= masks[b].to_numpy()
        defined = df[rate_col].notna().to_numpy()
        table.loc[hide & defined, rate_col] = RATE_MARK
        table.loc[hide & ~defined, rate_col] = None
        flags.loc[hide & defined, rate_col] = RATE
    return Published(table, flags, k)


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


class Unclassified(ValueError):
    """A column that may not be published: it has no disclosure class in the catalogue."""


def disclosure_classes(df: pd.DataFrame) -> tuple[list[str], dict[str, list[str]]]:
    """The count columns and the derived columns (with their basis) of a table, from the
    catalogue of published figures (dashboards.catalog). Default-deny: a numeric column
    without a class, or a derived column whose basis is not in the table, raises."""
    from dashboards.catalog import COUNT, DERIVED, figure

    counts, rates = [], {}
    for col in df.columns:
        f = figure(col)
        numeric = pd.api.types.is_numeric_dtype(df[col].dtype) or _mixed_numeric(df[col])
        if f is None:
            if numeric:
                raise Unclassified(
                    f"Spalte '{col}' hat keine Geheimhaltungsklasse im Katalog"
                    " (dashboards/catalog.py) und darf nicht veröffentlicht werden."
                )
            continue
        if f.cls == COUNT:
            counts.append(col)
        elif f.cls == DERIVED:
            missing = [b for b in f.basis if b not in df.columns]
            if missing:
                raise Unclassified(
                    f"Spalte '{col}' beruht auf {', '.join(missing)}, die in der Tabelle fehlen."
                )
            rates[col] = list(f.basis)
    return counts, rates


def publish(
    df: pd.DataFrame,
    k: int | None,
    *,
    margins: Sequence[Sequence[str]] = ((),),
    total_mask: pd.Series | None = None,
) -> Published:
    """A table as it may leave the query: suppressed with k (classes from the catalogue), or
    internal (k None) — in both cases only with classified columns."""
    counts, rates = disclosure_classes(df)
    if k is None:
        return unsuppressed(df)
    return suppress(df, counts, k, rates=rates, margins=margins, total_mask=total_mask)


def from_grid(df: pd.DataFrame, k: int, status: Mapping[str, Sequence[str]]) -> Published:
    """A table whose counts are cells of the publication grid, shown with the grid's pattern
    (`status` per count column: '', 'primary' or 'secondary'; a missing status is a zero
    cell). Default-deny: every count column must come with its grid status."""
    counts, rates = disclosure_classes(df)
    if missing := [c for c in counts if c not in status]:
        raise Unclassified(f"Zählungen ohne Zelle im Veröffentlichungsraster: {missing}")
    st = {c: pd.Series(list(status[c]), dtype=object).fillna("").astype(str) for c in counts}
    # every hidden cell reads "x", a small one too: "<k" (1 … k−1) beside "x" (then k or more)
    # pinned hidden counts by their marks alone, e.g. a "<3" total of two "<3" parts is 1 + 1
    # (review of 2026-12-07, docs/decisions.md „Eine Marke für jede verborgene Zahl“)
    hidden = {c: (v != "").to_numpy() for c, v in st.items()}
    primary = {c: np.zeros(len(df), dtype=bool) for c in counts}
    return with_pattern(df, k, primary, hidden, rates)


def suppress_pivot(
    pivot: pd.DataFrame,
    k: int = DEFAULT_K,
    *,
    total_label: str = "Gesamt",
) -> Published:
    """A two-way table of counts with a total row and a total column added.

    The cells of each row add up to the row total and the cells of each column to the column
    total, so both are secondary-suppression groups; totals are suppressed when small.
    """
    body = pivot.copy()
    cols = list(body.columns)
    body[total_label] = body[cols].sum(axis=1, min_count=1)
    total_row = body.sum(axis=0, min_count=1).to_frame().T
    total_row.index = [total_label]
    full = pd.concat([body, total_row])
    index_name = pivot.index.name or "Zeile"
    long = full.reset_index(names=index_name)
    is_total = (long[index_name] == total_label).to_numpy()
    # Treat each column as a count column grouped over rows (column totals = total row), and
    # each row as a row sum of the cell columns (row totals = total column).
    count_cols = [*cols, total_label]
    res = suppress(
        long,
        count_cols,
        k,
        margins=((),),
        row_sums={total_label: cols},
        total_mask=pd.Series(is_total),
    )
    return res
