"""Values from the data stay text: Markdown and plotly escaping, formula-safe CSV and XLSX."""

from __future__ import annotations

import pandas as pd
from markdown_it import MarkdownIt

from dashboards import exports
from dashboards.disclosure import Published
from dashboards.markup import md_text, plot_text
from tests.dashboards.fixture_warehouse import HOSTILE
from tests.dashboards.safe_files import (
    csv_problems,
    markdown_problems,
    xlsx_problems,
    xlsx_strings,
)


def test_markdown_escape_leaves_no_link_image_html_or_directive():
    md = MarkdownIt("commonmark")
    extra = ("**fett**", ":red[rot]", "$x^2$", "a\nb", "www.evil.example", "x@evil.example")
    for value in (*HOSTILE, *extra):
        source = f"- Träger {md_text(value)}: **12**"
        assert not markdown_problems(source), (value, markdown_problems(source))
        kinds = {t.type for tok in md.parseInline(source) for t in tok.children or []}
        assert not kinds & {"em_open", "code_inline"} and "\n" not in source
    assert markdown_problems("siehe http://evil.example/x")  # the check finds autolinks
    # rendered, the escaped text reads as the value
    assert md.renderInline(md_text("p-01_x.y")) == "p-01_x.y"


def test_plot_text_turns_markup_into_entities():
    assert plot_text(HOSTILE[1]) == '&lt;a href="http://evil.example"&gt;x&lt;/a&gt;'
    assert plot_text("A & B") == "A &amp; B"
    assert plot_text("<3") == "&lt;3"


def test_csv_neutralises_formula_text_but_keeps_negative_numbers():
    df = pd.DataFrame(
        {
            "provider_id": [*HOSTILE, "\tTab", "\rCR", "p01"],
            "cases": [-3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            "avg_caseload": [-1.5, 2.0, None, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 1e-6],
        }
    )
    data = exports.frame_csv(df)
    assert not csv_problems(data)
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[1] == '"\'=HYPERLINK(""http://evil.example/x"",""Info"")";-3;-1,5'
    assert lines[5] == '"\'+cmd";7;5,0'
    assert lines[7] == '"\'-1+1";9;7,0'
    assert lines[-1].startswith("p01;12;")
    flags = pd.DataFrame("", index=df.index, columns=df.columns)
    table = exports.table_csv(Published(df, flags, 3)).decode("utf-8-sig")
    assert table.startswith("# ") and '"\'@SUM(A1)"' in table


def test_xlsx_writes_strings_never_formulas_or_links():
    df = pd.DataFrame({"provider_id": list(HOSTILE), "cases": range(-3, 4)})
    basis = type(
        "Basis",
        (),
        {
            "as_of": None,
            "as_of_source": HOSTILE[0],
            "deliveries": 2,
            "providers": 1,
            "built_at": None,
            "run_id": HOSTILE[1],
            "delivery_list": pd.DataFrame({"provider_id": [HOSTILE[0], HOSTILE[4]]}),
        },
    )()
    data = exports.workbook_bytes(
        [exports.Sheet(HOSTILE[2], df, title=HOSTILE[0], caption=HOSTILE[5])],
        basis=basis,
        definitions=[(HOSTILE[0], HOSTILE[6])],
        role_label=HOSTILE[3],
    )
    assert not xlsx_problems(data)
    strings = xlsx_strings(data)
    assert '=HYPERLINK("http://evil.example/x","Info")' in strings and "@SUM(A1)" in strings
