"""Parser settings and row rules generated from the contract, as DuckDB SQL.

`checked_sql` turns a raw all-VARCHAR table into typed columns plus `faults`, a list of
{col, reason} structs — one entry per broken rule, in German, naming the column as the file
wrote it and never repeating the offending value. A row with an empty `faults` list is valid.
The same contract drives the Great Expectations suites (suites.py), so the two cannot diverge.
"""

from __future__ import annotations

from data_contracts.contract import (
    FOLD_FROM,
    FOLD_RANGES,
    FOLD_TO,
    Column,
    Contract,
    Table,
    load_contract,
)

MIN_YEAR, MAX_YEAR = 1950, 2100
# From about this many rows on, `trimmed` saves more per row than it costs to compile (see
# `trim_sql`): measured on both sides of it at 1,000,000 and 10,000 cases.
TRIM_FAST_PATH_ROWS = 20_000


def lit(text: str) -> str:
    """SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


# the look-alikes as one character class: a value without any is only lower-cased
_LOOKALIKE = lit("[" + "".join(f"{a}-{b}" for a, b in FOLD_RANGES) + "]")


def match_text(expr: str) -> str:
    """SQL for the text the identifier patterns are matched against: `expr` lower-cased, its
    look-alikes folded (contract.FOLD_FROM; `contract.match_lower` in Python). translate()
    only where a value holds one: DuckDB's translate costs 20 times lower()'s (300,000 notes
    1.6 s against 0.09 s), the class test next to nothing (1,000,000 cases: 94 s against 65 s
    for the whole run when every value was translated)."""
    folded = f"translate(lower({expr}), {lit(FOLD_FROM)}, {lit(FOLD_TO)})"
    return f"CASE WHEN regexp_matches({expr}, {_LOOKALIKE}) THEN {folded} ELSE lower({expr}) END"


def _in_list(values) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def trimmed(col: str) -> str:
    """SQL for `trim(col)` that calls `trim` only where it can change the value.

    DuckDB's `trim` removes Unicode space separators (U+0020, U+00A0, U+2000–U+200A, …) and
    copies every value it touches; almost no delivered value has one at either end, so a value
    that neither starts nor ends with an ASCII space and is pure ASCII (as many bytes as
    characters) is returned as it is. Same result as `trim(col)` for every value, NULL
    included; at 1,000,000 cases the ingest's most frequent expression, about 40 % cheaper.
    """
    return (
        f"CASE WHEN {col} LIKE ' %' OR {col} LIKE '% ' OR strlen({col}) <> length({col})"
        f" THEN trim({col}) ELSE {col} END"
    )


def trim_sql(col: str, rows: int | None = None) -> str:
    """`trim(col)` in the form that is cheaper for a table of `rows` rows (None: many).

    `trimmed` saves about 0.02 µs per value but its three tests cost DuckDB about 0.35 ms more
    to parse, bind and optimise per column, in every statement: for one delivery of a small
    network (1,250 cases) the row rules of its seven tables took 93 ms with `trimmed` and 75
    ms with `trim`; the 80,000 contacts of a large one 44 ms against 57 ms. Both give the
    same value for every input (tests/unit/test_rules.py)."""
    return trimmed(col) if rows is None or rows >= TRIM_FAST_PATH_ROWS else f"trim({col})"


def raw_value(col: str) -> str:
    """The raw value as the rules see it: trimmed, empty = NULL (computed once per column in
    `checked_sql`'s first step; every rule then refers to it by name)."""
    return col


def typed_expr(column: Column, contract: Contract, bool_mark: bool = False) -> str:
    """SQL turning the raw text of `column` into its contract type (NULL when unparseable)."""
    v = raw_value(column.name)
    parsing = contract.parsing
    if column.type == "code":
        return f"lower({v})"
    if column.type == "date":
        tries = ", ".join(f"try_strptime({v}, {lit(f)})" for f in parsing["date_formats"])
        return f"CAST(coalesce({tries}) AS DATE)"
    if column.type == "bool":
        empty = f" WHEN {v} IS NULL THEN false" if bool_mark else ""
        return (
            f"CASE WHEN lower({v}) IN {_in_list(parsing['bool_true'])} THEN true"
            f" WHEN lower({v}) IN {_in_list(parsing['bool_false'])} THEN false{empty} END"
        )
    if column.type == "decimal":
        return f"TRY_CAST(replace({v}, ',', '.') AS DOUBLE)"
    if column.pattern == "region":
        # Spreadsheets drop the leading zero of NRW keys (05315 -> 5315): put it back.
        short = f"regexp_full_match({v}, '[0-9]{{4}}|[0-9]{{7}}')"
        return f"CASE WHEN {short} THEN '0' || {v} ELSE {v} END"
    return v


def _faults_for(column: Column, table: Table, contract: Contract, shown: dict[str, str]) -> list:
    """(condition on raw/typed values, German reason) for every rule on one column."""
    name = column.name
    v = raw_value(name)
    t = f"t_{name}"
    label = shown.get(name, column.alias)
    out = []
    if column.type == "code":
        allowed = list(contract.codes[column.codes].values)
        out.append(
            (
                # a cast to the code list's ENUM, not `NOT IN (…)`: one lookup instead of a
                # comparison per code (a tenth of the cases' row rules at 1,000,000 cases)
                f"{v} IS NOT NULL AND TRY_CAST({t} AS ENUM{_in_list(allowed)}) IS NULL",
                f"unbekannter Code in ‚{label}‘ (erlaubt: {', '.join(allowed)})",
            )
        )
    elif column.type == "date":
        out.append(
            (
                f"{v} IS NOT NULL AND {t} IS NULL",
                f"ungültiges Datum in ‚{label}‘ (erwartet JJJJ-MM-TT oder TT.MM.JJJJ)",
            )
        )
        out.append(
            (
                f"{t} IS NOT NULL AND (year({t}) < {MIN_YEAR} OR year({t}) > {MAX_YEAR})",
                f"unplausibles Datum in ‚{label}‘ (Jahr außerhalb {MIN_YEAR}–{MAX_YEAR})",
            )
        )
    elif column.type == "bool":
        out.append(
            (
                f"{v} IS NOT NULL AND {t} IS NULL",
                f"ungültiger Ja/Nein-Wert in ‚{label}‘ (erlaubt: ja/nein, true/false, 1/0, x/leer)",
            )
        )
    elif column.type == "decimal":
        out.append((f"{v} IS NOT NULL AND {t} IS NULL", f"keine Zahl in ‚{label}‘"))
        if column.greater_than is not None or column.at_most is not None:
            lo, hi = column.greater_than, column.at_most
            cond = " OR ".join(
                ([f"{t} <= {lo}"] if lo is not None else [])
                + ([f"{t} > {hi}"] if hi is not None else [])
            )
            out.append(
                (
                    f"{t} IS NOT NULL AND ({cond})",
                    f"‚{label}‘ muss größer als {_num(lo)} und höchstens {_num(hi)} sein",
                )
            )
    if column.pattern:
        spec = contract.patterns[column.pattern]
        out.append(
            (
                f"{t} IS NOT NULL AND NOT regexp_full_match({t}, {lit(spec['regex'])})",
                f"‚{label}‘: {spec['label']} erwartet",
            )
        )
    if column.max_length:
        out.append(
            (
                f"length({v}) > {column.max_length}",
                f"‚{label}‘ ist länger als {column.max_length} Zeichen",
            )
        )
    if column.required:
        out.append((f"{v} IS NULL AND {t} IS NULL", f"Pflichtwert ‚{label}‘ fehlt"))
    if column.required_if:
        other = table.column(column.required_if)
        out.append(
            (
                f"t_{other.name} IS NOT NULL AND {t} IS NULL AND {v} IS NULL",
                f"‚{label}‘ fehlt, obwohl ‚{shown.get(other.name, other.alias)}‘ gesetzt ist",
            )
        )
    if column.not_before:
        other = table.column(column.not_before)
        out.append(
            (f"{t} < t_{other.name}", f"‚{label}‘ liegt vor ‚{shown.get(other.name, other.alias)}‘")
        )
    return [(cond, name, reason) for cond, reason in out]


def _num(x) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x).replace(".", ","))


def _fault_struct(cond: str, column: str, reason: str) -> str:
    return f"CASE WHEN {cond} THEN {{'col': {lit(column)}, 'reason': {lit(reason)}}} END"


def checked_sql(
    table: Table,
    source: str,
    shown: dict[str, str] | None = None,
    bool_mark_columns: set[str] | frozenset = frozenset(),
    contract: Contract | None = None,
    rows: int | None = None,
    part: str | None = None,
) -> str:
    """SELECT over `source` (raw VARCHAR columns + __line) giving typed columns and `faults`.

    `shown` maps contract columns to the header the file used, so reasons name what the
    provider sees. Duplicate keys: the first occurrence (lowest line) stays, later ones are
    rejected with a pointer to it. Rows come in no particular order (the first line is
    `min(__line)`, and rejections are sorted when written): sorting them was a sixth of the
    row rules' time, and the join that checks a row's case (`reference_sql`) does not keep an
    order anyway. `rows`: how many rows `source` has, for the cheaper form of trimming
    (`trim_sql`); the result is the same either way. `part`: a column of `source` that
    numbers the deliveries checked together (`pipelines.ingest.together`): kept in the result,
    and keys are duplicates only within the same delivery.
    """
    contract = contract or load_contract()
    kept = f"{part}, " if part else ""
    shown = shown or {}
    typed = ",\n    ".join(
        f"{typed_expr(c, contract, c.name in bool_mark_columns)} AS t_{c.name}"
        for c in table.columns
    )
    raws = ", ".join(c.name for c in table.columns)
    checks = [f for c in table.columns for f in _faults_for(c, table, contract, shown)]
    fault_list = ",\n      ".join(_fault_struct(cond, col, r) for cond, col, r in checks)
    key_fault, firsts, join = "[]", "", ""
    if table.key:
        # the first line of each key that occurs more than once: an aggregate over the keys
        # and a join, not a window over every row (1,000,000 cases: a tenth of the checks)
        key_cols = kept + ", ".join(f"t_{k}" for k in table.key)
        all_set = " AND ".join(f"t_{k} IS NOT NULL" for k in table.key)
        key_shown = ", ".join(f"‚{shown.get(k, table.column(k).alias)}‘" for k in table.key)
        firsts = f""", firsts AS (
  SELECT {key_cols}, min(__line) AS first_line FROM typed WHERE {all_set}
  GROUP BY ALL HAVING count(*) > 1
)"""
        on = " AND ".join(
            [f"d.{part} = j.{part}"] * bool(part) + [f"d.t_{k} = j.t_{k}" for k in table.key]
        )
        join = f"LEFT JOIN firsts d ON {on}"
        key_fault = (
            f"CASE WHEN j.__line > d.first_line"
            f" THEN [{{'col': {lit(table.key[-1])}, 'reason': {lit('doppelter Schlüssel (')}"
            f" || {lit(key_shown)} || ' bereits in Zeile ' || CAST(d.first_line AS VARCHAR)"
            " || ')'}] ELSE [] END"
        )
    final_cols = ", ".join(f"j.t_{c.name} AS {c.name}" for c in table.columns)
    trimmed_cols = ", ".join(
        f"nullif({trim_sql(c.name, rows)}, '') AS {c.name}" for c in table.columns
    )
    return f"""
WITH source AS (
  SELECT {kept}__line, {trimmed_cols} FROM {source}
), typed AS (
  SELECT {kept}__line, {raws},
    {typed}
  FROM source
){firsts}, judged AS (
  SELECT *,
    list_filter([
      {fault_list}
    ], lambda f: f IS NOT NULL) AS row_faults
  FROM typed
)
SELECT {"j." + kept if part else ""}j.__line, {final_cols},
  list_concat(j.row_faults, {key_fault}) AS faults
FROM judged j {join}
"""


def reference_sql(
    checked: str, cases: str, shown_case: str = "fall_id", part: str | None = None
) -> str:
    """Add a fault to child rows whose (provider_id, case_id) is not among `cases` (with
    `part`: not among the cases of the same delivery, `checked_sql`)."""
    reason = lit(f"Fall existiert in dieser Lieferung nicht oder wurde abgelehnt (‚{shown_case}‘)")
    keys = [part] * bool(part) + ["provider_id", "case_id"]
    return f"""
SELECT c.* REPLACE (
  CASE WHEN c.case_id IS NOT NULL AND c.provider_id IS NOT NULL AND k.case_id IS NULL
       THEN list_append(c.faults, {{'col': 'case_id', 'reason': {reason}}})
       ELSE c.faults END AS faults)
FROM {checked} c
LEFT JOIN (SELECT DISTINCT {", ".join(keys)} FROM {cases}) k
  ON {" AND ".join(f"k.{key} = c.{key}" for key in keys)}
"""
