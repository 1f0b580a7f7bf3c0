"""False positives of the identifier gate on the demo generator's exports.

    python -m tests.hostile.measure_false_positives [--cases 6000 --providers 8 --seed 1]

Generates the demo exports (all delivery formats, no planted faults), reads every delivery as
the pipeline does and counts (a) notes any identifier pattern matches and (b) deliveries the
gate would quarantine. The generator plants no identifiers, so every hit is a false positive.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def measure(cases: int, providers: int, seed: int) -> dict:
    from data_contracts import load_contract
    from generator import generate_inbox
    from kernel.warehouse import connect
    from pipelines.ingest.gate import scan_identifiers
    from pipelines.ingest.reader import parse_delivery

    contract = load_contract()
    out = {"notes": 0, "note_hits": 0, "values": 0, "deliveries": 0, "quarantined": 0}
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        generate_inbox(inbox, cases=cases, providers=providers, seed=seed, with_faults=False)
        for delivery in sorted(inbox.iterdir()):
            con = connect()
            parsed = parse_delivery(con, delivery, contract, Path(tmp) / "work" / delivery.name)
            out["deliveries"] += 1
            if "barriers" in parsed.tables:
                notes = [
                    r[0]
                    for r in con.execute(
                        f"SELECT note FROM {parsed.tables['barriers'].raw} WHERE note IS NOT NULL"
                    ).fetchall()
                ]
                out["notes"] += len(notes)
                out["note_hits"] += sum(bool(contract.identifier_labels(n)) for n in notes)
            for st in parsed.tables.values():
                out["values"] += st.rows_received * len(st.headers)
            if scan_identifiers(con, parsed, contract) or parsed.faults:
                out["quarantined"] += 1
            con.close()
    out["rate"] = out["note_hits"] / max(out["notes"], 1)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--cases", type=int, default=6000)
    p.add_argument("--providers", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    r = measure(a.cases, a.providers, a.seed)
    print(
        f"{r['deliveries']} Lieferungen, {r['notes']} Notizen, {r['values']} Werte:"
        f" {r['note_hits']} Notizen mit Treffer (Rate {r['rate']:.4%}),"
        f" {r['quarantined']} Lieferungen würden in Quarantäne gehen"
    )
