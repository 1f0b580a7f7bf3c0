"""Write the hostile corpus into a folder, one delivery per case, to try it by hand:

    python -m tests.hostile.build_corpus /tmp/feindlich
    lagebild run --inbox /tmp/feindlich/inbox --workspace /tmp/feindlich/ws

`/tmp/feindlich/ws/lagebild.yaml` gets the corpus's limits; `erwartet.tsv` lists what each
delivery must end as (the tests assert exactly this).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from tests.hostile.corpus import CASES, SETTINGS, build_all, provider_of


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    root = Path(argv[0])
    inbox = root / "inbox"
    if inbox.exists():
        print(f"{inbox} gibt es schon; bitte einen neuen Ordner angeben.")
        return 2
    build_all(inbox)
    (root / "ws").mkdir(parents=True, exist_ok=True)
    (root / "ws" / "lagebild.yaml").write_text(yaml.safe_dump(SETTINGS))
    lines = ["fall\tklasse\tträger\tstatus\tgrund"]
    lines += [f"{c.id}\t{c.cls}\t{provider_of(c)}\t{c.status}\t{c.reason or ''}" for c in CASES]
    (root / "erwartet.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(CASES)} Lieferungen in {inbox}; Erwartungen in {root / 'erwartet.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
