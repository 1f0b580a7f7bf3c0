"""Great Expectations suites generated from the contract.

One suite per table, run against the typed staging rows (pandas frames pulled from DuckDB
through Arrow — GX over duckdb-engine is broken, see architecture.md) in an ephemeral context
with analytics and progress bars off. Rules that span tables (a goal's case must exist) are
SQL checks in the pipeline; everything a single table can say is here. Import this module
lazily: GX takes seconds to import.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from data_contracts.contract import Contract, Table, load_contract

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def end_of_text(regex: str) -> str:
    """The regex with every `$` anchor written `\\Z`, the end of the text.

    That is how RE2 (the SQL gate) reads `$`; Python's `$` also matches before a final newline.
    pandas hands a pattern with `\\Z` to Arrow's RE2 even when the data hold newlines (notes
    do); with `$` it falls back to Python's backtracking `re`: 15–25× slower on the notes."""
    out, i, class_from = [], 0, None  # class_from: where the members of an open [...] begin
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            out.append(regex[i : i + 2])
            i += 2
            continue
        if class_from is None:
            if ch == "[":
                class_from = i + 1 + (regex[i + 1 : i + 2] == "^")
            elif ch == "$":
                ch = r"\Z"
        elif ch == "]" and i > class_from:
            class_from = None
        out.append(ch)
        i += 1
    return "".join(out)


def expectations_for(table: Table, contract: Contract) -> list:
    """The GX expectations that express the contract for one table's typed rows."""
    import great_expectations.expectations as gxe

    exps: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*table.column_names, "delivery_id"], exact_match=True
        )
    ]
    for c in table.columns:
        if c.required:
            exps.append(gxe.ExpectColumnValuesToNotBeNull(column=c.name))
        if c.type == "code":
            exps.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=c.name, value_set=list(contract.codes[c.codes].values)
                )
            )
        if c.type == "decimal" and (c.greater_than is not None or c.at_most is not None):
            exps.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=c.name,
                    min_value=c.greater_than,
                    max_value=c.at_most,
                    strict_min=True,
                    strict_max=False,
                )
            )
        if c.pattern:
            exps.append(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=c.name, regex=end_of_text(contract.patterns[c.pattern]["regex"])
                )
            )
        # a length is implied by a code list or a pattern (keys: at most 64 characters)
        if c.max_length and c.type == "text" and not c.pattern:
            exps.append(
                gxe.ExpectColumnValueLengthsToBeBetween(column=c.name, max_value=c.max_length)
            )
        if c.required_if:
            exps.append(
                gxe.ExpectColumnValuesToNotBeNull(
                    column=c.name,
                    row_condition=f"{c.required_if}.notnull()",
                    condition_parser="pandas",
                )
            )
        if c.not_before:
            exps.append(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=c.name,
                    column_B=c.not_before,
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                )
            )
        if c.free_text:
            exps.append(
                gxe.ExpectColumnValuesToNotMatchRegexList(
                    column=c.name,
                    regex_list=[f"(?i){end_of_text(p.regex)}" for p in contract.identifier_values],
                )
            )
    if table.key:
        exps.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(table.key)))
    return exps


def build_suite(table: Table, contract: Contract | None = None):
    import great_expectations as gx

    contract = contract or load_contract()
    suite = gx.ExpectationSuite(name=f"austauschformat_v{contract.version}_{table.name}")
    for e in expectations_for(table, contract):
        suite.add_expectation(e)
    return suite


def ephemeral_context():
    """An in-memory GX context: no files, no analytics, no progress bars, no fingerprints.

    GX fingerprints every pandas batch under 1 GB (`HASH_THRESHOLD`: an md5 over pandas' hash
    of every row, twice per batch) for a marker in the result that nothing here reads: it was
    40 % of the contract checks (1,000,000 cases: 13.7 → 7.8 s)."""
    import great_expectations as gx
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    pandas_engine.HASH_THRESHOLD = 0
    return gx.get_context(mode="ephemeral", project_config=config)


@dataclass
class SuiteResult:
    table: str
    rows: int
    success: bool
    evaluated: int
    failed: list[dict]  # expectation type, column(s), unexpected_count

    @property
    def failed_count(self) -> int:
        return sum(int(f.get("unexpected_count") or 0) for f in self.failed)


def frames(con, sql: str, params=(), rows: int = 1_000_000):
    """A query's rows as pandas frames of about `rows` rows (whole row groups), through Arrow.

    The strings stay Arrow-backed, so pandas runs the suites' regexes in RE2, and the fetch is
    5–8× faster than DuckDB's `fetch_df_chunk` (1,000,000 cases: 8 million contacts 4.1 → 0.6 s).
    Dates arrive as datetime64 as with `.df()`. Through a relation (`con.sql`), which streams:
    Arrow from a DB-API result (`con.execute`) first copies every row (10,000,000 cases: the
    contacts check peaked at 11.6 GB). A relation refuses a connection whose last result was
    not read to the end (`lagebild check`'s), so that one is completed first."""
    con.complete()
    reader = con.sql(sql, params=list(params)).to_arrow_reader(rows)

    def frame(batches) -> pd.DataFrame:
        # the batches stay chunks of the frame's columns: joining them first (combine_chunks)
        # copied every value once more for nothing the suites need (1,000,000 cases: the
        # contacts' frames 1.3-1.6 -> 0.3-0.45 s, the validation as fast)
        return pa.Table.from_batches(batches).to_pandas(date_as_object=False)

    # DuckDB hands out row groups (~122,880 rows); GX costs ~0.1 s per frame whatever its size
    pending: list = []
    for batch in reader:
        pending.append(batch)
        if sum(b.num_rows for b in pending) >= rows:
            yield frame(pending)
            pending = []
    if pending:
        yield frame(pending)


def codes_as_categories(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its code columns (and the delivery) as pandas categories.

    GX filters the whole frame for nearly every expectation (the rows with a value, the rows
    of a condition); a category column is taken as its small integer codes instead of a
    string per row. 1,000,000 cases: staging.cases 2.2 → 1.3 s, the conversion 0.13 s."""
    few = [c.name for c in table.columns if c.type == "code"] + ["delivery_id"]
    return frame.astype({c: "category" for c in few if c in frame.columns})


def validate_frame(
    context,
    table: Table,
    frame: pd.DataFrame,
    contract: Contract | None = None,
    result_format: str = "BASIC",
):
    """Validate one typed frame of a table; returns (SuiteResult, raw GX result).

    BASIC is all a SuiteResult reads (the count of unexpected rows per expectation). SUMMARY
    adds the rows' positions and a query for them: two more filters of the whole frame per
    expectation, a third of the contract checks (1,000,000 cases: staging.cases 2.7 → 1.8 s)."""
    contract = contract or load_contract()
    frame = codes_as_categories(table, frame)
    name = f"lagebild_{table.name}"
    source = context.data_sources.add_or_update_pandas(name)
    try:
        batch = (
            source.add_dataframe_asset(table.name)
            .add_batch_definition_whole_dataframe("ganz")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        res = batch.validate(build_suite(table, contract), result_format=result_format)
    finally:
        # the data source keeps the frame: kept, every batch stayed in memory until the
        # process ended (10,000,000 cases: 14.6 GB in the contract checks)
        context.data_sources.delete(name)
    failed = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column")
            or r.expectation_config.kwargs.get("column_list")
            or r.expectation_config.kwargs.get("column_A"),
            "unexpected_count": (r.result or {}).get("unexpected_count"),
        }
        for r in res.results
        if not r.success
    ]
    return SuiteResult(table.name, len(frame), bool(res.success), len(res.results), failed), res


def validate_frames(
    context, table: Table, frames: Iterable[pd.DataFrame], contract: Contract | None = None
) -> list[SuiteResult]:
    """Each frame's suite, one frame after the other; what GX keeps of a validated frame is
    freed before the next one is read.

    GX's objects reference each other and the frame they validated, so only a full collection
    frees a validated frame, and Python runs one only after very many new objects: a table of
    many frames piled them up. At 10,000,000 cases one thread validating the contacts (74
    frames) grew to 3.0 GB, with a collection after each frame to 1.0 GB, and the suites'
    worker, two tables at a time, peaked at up to 10 GB (docs/performance-notes.md). Inside
    `frozen_heap` a collection walks only what the validation made (about a millisecond)."""
    results = []
    for frame in frames:
        results.append(validate_frame(context, table, frame, contract)[0])
        del frame  # the frame is then held by GX's unreachable objects only
        gc.collect()
    return results


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Python's collections within walk only the objects made from here on (`gc.freeze`): a
    full collection over a heap with GX, pandas and DuckDB loaded costs about 0.3 s, over one
    validation's objects about a millisecond. The heap is unfrozen afterwards, so what became
    garbage meanwhile is still collected (and nothing stays frozen until the process ends,
    where DuckDB's bindings would report it as leaked). `gc.freeze` is process-wide and does
    not nest: around the suites of a whole check, not around one table of several threads.
    Afterwards Python's next automatic full collection comes sooner (its count of long-lived
    objects then holds only the unfrozen part): once, over the whole heap, as a large table's
    `give_back_memory` does anyway."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
