"""The read side: role-scoped queries on the published copy, split by domain, behind one gate.

    from dashboards import read
    source = read.Source.of(workspace)
    viewer = source.viewer("foerderer")
    table = read.caseload(source, viewer, read.Filters("2026-Q1", "2026-Q2"))

Every query is declared with `read.gate.query` (roles) and has the signature
`(source, viewer, filters, **options)`; nothing else of the dashboards or the reports opens the
published copy. Figures come from `transforms` (one implementation each); suppression from
`dashboards.disclosure`; labels and formats from `dashboards.catalog`.
"""

from dashboards.read.basis import DataBasis, data_basis, filter_options, with_trust
from dashboards.read.caseload import benchmark_label, case_counts, caseload, caseload_by_caseworker
from dashboards.read.cases import cases
from dashboards.read.deliveries import (
    calendar,
    deliveries,
    delivery_tables,
    holds,
    rejections,
    trust,
)
from dashboards.read.gaps import gap_matrix, gaps, matrix_across, structural_closures, waits
from dashboards.read.gate import REGISTRY, query
from dashboards.read.grid import NotInGrid, grid_period_text
from dashboards.read.lineage import (
    caseload_lineage,
    closure_lineage,
    gap_counts,
    gap_lineage,
    process_cases,
    reentry_lineage,
    referral_lineage,
    theme_lineage,
)
from dashboards.read.overview import decisions
from dashboards.read.process import PROCESS_COUNTS, process_quality
from dashboards.read.quality import flags, scorecard
from dashboards.read.reentry import (
    NOT_PUBLISHED_NOTE,
    event_published,
    km_curve,
    reentry,
    reentry_cases,
)
from dashboards.read.scope import (
    ALL,
    NO_DATA_MESSAGE,
    ROLE_LABELS,
    ROLES,
    AccessDenied,
    Filters,
    Source,
    Viewer,
    default_filters,
    effective_providers,
    last_complete_quarter,
    quarter_shift,
)
from dashboards.read.themes import theme_cases, theme_trend, themes

__all__ = [
    "ALL",
    "NOT_PUBLISHED_NOTE",
    "NO_DATA_MESSAGE",
    "PROCESS_COUNTS",
    "REGISTRY",
    "ROLES",
    "ROLE_LABELS",
    "AccessDenied",
    "DataBasis",
    "Filters",
    "NotInGrid",
    "Source",
    "Viewer",
    "benchmark_label",
    "calendar",
    "case_counts",
    "caseload",
    "caseload_by_caseworker",
    "caseload_lineage",
    "cases",
    "closure_lineage",
    "data_basis",
    "decisions",
    "default_filters",
    "deliveries",
    "delivery_tables",
    "effective_providers",
    "event_published",
    "filter_options",
    "flags",
    "gap_counts",
    "gap_lineage",
    "gap_matrix",
    "gaps",
    "grid_period_text",
    "holds",
    "km_curve",
    "last_complete_quarter",
    "matrix_across",
    "process_cases",
    "process_quality",
    "quarter_shift",
    "query",
    "reentry",
    "reentry_cases",
    "reentry_lineage",
    "referral_lineage",
    "rejections",
    "scorecard",
    "structural_closures",
    "theme_cases",
    "theme_lineage",
    "theme_trend",
    "themes",
    "trust",
    "waits",
    "with_trust",
]
