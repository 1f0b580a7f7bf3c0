"""The identifier patterns are matched in linear time everywhere (review 2027-01: catastrophic
backtracking). Python's re took 21-27 s on the 59-character header "Bemerkung (0221)" + "12" * 21
+ "a", hours at 66 characters, and `limits.check_time` cannot interrupt it: one such header
stalled the run for every provider. The Python side now matches in RE2 as the gate does
(contract._Re2Matcher, DuckDB's regexp_matches), so it can neither backtrack nor disagree with
the gate. The slow cases run in a subprocess with a timeout: a regression fails, it does not
hang the suite."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from data_contracts import contract as contract_module
from data_contracts import load_contract
from data_contracts.contract import match_lower
from tests.unit import test_identifier_gate_variants as variants
from tests.unit import test_identifier_patterns as patterns

ROOT = Path(__file__).resolve().parents[2]
NBSP = "\u00a0"

# 10,000+ characters each, aimed at every value pattern (each input is matched against all of
# them) and at the header matcher
ADVERSARIAL = {
    "phone": [
        "Bemerkung (0221)" + "12" * 5000 + "a",
        "(0221)" + "12" * 5000 + "a",
        "+1" + "2" * 10000 + "a",
        "+49 " + "12 " * 4000 + "a",
        "0049 " + "1." * 5000 + "x",
        "0221 " + "12-" * 4000 + "a",
        "0221." + "12." * 4000 + "a",
        "(0221)" + "1/" * 5000 + "a",
        "+1(0)" + "12" * 5000 + "a",
    ],
    "phone_compact": ["0" + "1" * 10000 + "a", "00" + "9" * 10000 + "a"],
    "email": [
        "a" * 10000,
        "a@" * 5000,
        "a." * 5000,
        "a-" * 5000,
        "a (at) " * 2000,
        " at " * 3000,
        "a@b" + ".c" * 5000 + "1",
        "a@b" + " (dot) c" * 1500 + "1",
        "a" + NBSP * 10000 + "@",
        "a" + " " * 10000 + "(at",
    ],
    "iban": ["de89" + " 1234" * 2500 + "!", "de89" + "1 " * 5000, "de89" + "-1" * 5000 + "a"],
    "birth_date": [
        "geb." + "." * 10000 + "1",
        "geb" + " " * 10000 + "1",
        "*" * 10000,
        "geb. 1" + " ." * 5000,
        "geboren am " + "am " * 4000 + "1",
    ],
    "street_address": [
        "hauptstraße" + " " * 10000 + "1",
        "a" + "-" * 10000 + "straße 1",
        "straße 1" * 1500,
        "kölner" + " " * 10000 + "straße 1a",
        "weg 12 " * 2000 + "a",
    ],
    "runs": [
        "." * 10000,
        "-" * 10000,
        " " * 10000,
        "@" * 10000,
        NBSP * 10000,
        "_" * 10000,
        "\x00" * 10000,
        "1" * 10000,
        "12." * 4000 + "a",
        ("0123456789 .-/()+@a" + NBSP + "_") * 600,
    ],
}


def _run(code: str, timeout: float, *args: str, stdin: str = "") -> str:
    """`code` in a fresh interpreter (repository root on the path); a timeout fails the test."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {timeout} s: the identifier patterns backtrack again")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_adversarial_set_is_matched_promptly():
    """Every value pattern (as value, key, and name) and the header matcher on inputs of 10,000+
    characters: the whole set well within the bound (RE2 takes under a second; Python's re
    took hours). Generous, so it never flakes on a busy machine."""
    assert all(len(s) >= 10000 for inputs in ADVERSARIAL.values() for s in inputs)
    out = _run(
        """
        import json, sys, time
        from data_contracts import load_contract
        c = load_contract()
        texts = json.loads(sys.stdin.read())
        start = time.perf_counter()
        for s in texts:
            c.identifier_header_kind(s)
            c.identifier_labels(s)
            c.identifier_labels(s, key=True)
            c.find_identifier(s, name=True)
        c.identifier_labels_many(texts)
        print(json.dumps({"seconds": time.perf_counter() - start}))
        """,
        60,
        stdin=json.dumps([s for inputs in ADVERSARIAL.values() for s in inputs]),
    )
    assert json.loads(out)["seconds"] < 30


def test_matching_goes_through_re2_not_pythons_re(monkeypatch):
    """The implementation path: Python's re never sees a value pattern, every one is compiled
    by RE2 (google-re2, the engine DuckDB's regexp_matches uses)."""
    contract = load_contract()
    regexes = {p.regex for p in contract.identifier_values}
    compile_ = re._compile  # type: ignore[attr-defined]

    def guarded(pattern, flags):
        assert pattern not in regexes, "a value pattern reached Python's re"
        return compile_(pattern, flags)

    monkeypatch.setattr(re, "_compile", guarded)
    matcher = contract_module._matcher(contract.identifier_values)
    assert contract.identifier_labels("Rückruf 0221 98765432 (linear)") == ["Telefonnummer"]
    assert contract.find_identifier("kontakt_max.muster@example.org_x", name=True)
    assert contract.identifier_labels("Bemerkung (0221)" + "12" * 30 + "a") == []
    assert {type(c).__module__.split(".")[0] for c in matcher.compiled} == {"re2"}
    assert len(matcher.compiled) == len(contract.identifier_values)
    assert not hasattr(contract_module, "_compiled")


def _old_python_labels(text: str, key: bool = False, name: bool = False) -> list[str]:
    """The former implementation (Python's re), the reference on the short test lists."""
    if not text:
        return []
    low = match_lower(text)
    tried = (low, low.replace("_", " ")) if name and "_" in low else (low,)
    labels: list[str] = []
    for p in load_contract().identifier_values:
        if (key and p.scope != "all") or p.label in labels:
            continue
        if any(re.search(p.regex, v) for v in tried):
            labels.append(p.label)
    if "IBAN" in labels and "Telefonnummer" in labels:
        labels.remove("Telefonnummer")
    return labels


def _test_lists() -> list[str]:
    texts = [t for examples in patterns.POSITIVES.values() for t in examples]
    texts += patterns.LOOKALIKES + [t for _, t in variants.VARIANTS] + variants.LOOKALIKES
    for extra in ("FOLDING", "STAYS_A_HIT"):
        for item in getattr(variants, extra, []):
            texts += [
                x for x in (item if isinstance(item, tuple) else (item,)) if isinstance(x, str)
            ]
    return list(dict.fromkeys(texts))


@pytest.mark.parametrize("name", [False, True])
@pytest.mark.parametrize("key", [False, True])
def test_re2_labels_equal_the_old_python_labels_on_the_test_lists(key, name):
    contract = load_contract()
    texts = _test_lists()
    texts += [t.replace(" ", "_") for t in texts]
    assert len(texts) > 150
    expected = [_old_python_labels(t, key, name) for t in texts]
    got = contract.identifier_labels_many(texts, key=key, name=name)
    assert [(t, g, e) for t, g, e in zip(texts, got, expected, strict=True) if g != e] == []
    sample = texts[::10]  # single calls too
    assert [contract.identifier_labels(t, key=key, name=name) for t in sample] == expected[::10]


def test_a_batch_answers_as_single_calls():
    contract = load_contract()
    texts = [f"Notiz {i}: Rückruf 0221 9876{i:04d}" for i in range(1000)] + ["", "ok", "ok"]
    many = contract.identifier_labels_many(texts)
    assert many[::50] == [contract.identifier_labels(t) for t in texts[::50]]
    assert many[-3:] == [contract.identifier_labels(t) for t in texts[-3:]]
    assert many[0] == ["Telefonnummer"] and many[-1] == []


def test_threads_each_get_the_same_answers():
    contract = load_contract()
    texts = _test_lists()[:20]
    expected = [_old_python_labels(t) for t in texts]
    got: list[list[list[str]]] = []

    def work() -> None:
        got.append([contract.identifier_labels(t + " (thread)") for t in texts])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(got) == 4
    assert all(g == [_old_python_labels(t + " (thread)") for t in texts] for g in got)
    assert expected == [contract.identifier_labels(t) for t in texts]


def test_names_that_are_not_utf8_are_matched_too():
    """A file name undecodable as UTF-8 (surrogate escapes) cannot go to DuckDB as it is."""
    contract = load_contract()
    assert contract.find_identifier("faelle_\udcff.csv", name=True) is None
    assert contract.find_identifier("m\udcff_max@example.org", name=True) == "E-Mail-Adresse"


def test_a_delivery_with_a_backtracking_header_is_inspected_promptly(tmp_path):
    """End to end: `inspect_delivery` on a CSV whose header is "Bemerkung (0221)" + "12" * 30 +
    "a" (Python's re: days) answers within the timeout."""
    out = _run(
        """
        import json, sys
        from pathlib import Path
        from kernel.warehouse import connect
        from pipelines.ingest.load import inspect_delivery
        from tests.hostile.corpus import with_header

        root = Path(sys.argv[1])
        path = with_header("Bemerkung (0221)" + "12" * 30 + "a")(root / "inbox", "p-redos")
        insp = inspect_delivery(connect(), path, root / "work")
        print(json.dumps([f.reason for f in insp.quarantine]))
        """,
        60,
        str(tmp_path),
    )
    reasons = json.loads(out.strip().splitlines()[-1])
    assert not any("1212121212" in r for r in reasons), reasons
