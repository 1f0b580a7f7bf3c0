"""The theme register through the real pipeline: generated deliveries, `lagebild run` twice,
then a re-delivery of every provider with a later export date."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from kernel.settings import load_settings
from pipelines.cli import main
from transforms.themes.read import list_themes
from transforms.themes.store import theme_history

generate = pytest.importorskip("generator")
runner = pytest.importorskip("pipelines.runner")

WZ = "T-wartezeit-gesundheit_psychisch"


def _run(ws, inbox):
    settings = load_settings(ws, inbox)
    # everything up to the themes (publishing and reports are not needed here)
    selection = dg.AssetSelection.all() - dg.AssetSelection.groups("publish", "reports")
    outcome = runner.run_pipeline(settings, selection=selection)
    assert outcome.success, outcome.failures
    return outcome


@pytest.mark.slow
def test_register_survives_rerun_and_redelivery(tmp_path, capsys):
    ws, inbox = tmp_path / "ws", tmp_path / "inbox"
    generate.generate_inbox(inbox, cases=3000, providers=5, seed=3, plain=True)
    _run(ws, inbox)
    first = list_themes(ws)
    assert WZ in set(first["theme_id"])
    text_ids = sorted(t for t in first["theme_id"] if t.startswith("T-text-"))
    assert len(text_ids) >= 6

    assert (
        main(
            [
                "themes",
                "set",
                WZ,
                "--status",
                "lenkungsgruppe",
                "--owner",
                "Lenkungsgruppe",
                "--note",
                "Beschlussvorlage zur Psychotherapie-Versorgung",
                "--workspace",
                str(ws),
            ]
        )
        == 0
    )
    assert (
        main(["themes", "set", text_ids[0], "--status", "priorisiert", "--workspace", str(ws)]) == 0
    )
    capsys.readouterr()

    _run(ws, inbox)  # re-run: nothing new
    # re-delivery: every provider exports again a month later (new files, same cases and more)
    generate.generate_inbox(
        inbox, cases=3000, providers=5, seed=3, plain=True, exported_on=date(2026, 11, 16)
    )
    _run(ws, inbox)

    after = list_themes(ws, include_inactive=True).set_index("theme_id")
    assert after.loc[WZ, "status"] == "lenkungsgruppe"
    assert after.loc[WZ, "owner"] == "Lenkungsgruppe"
    assert after.loc[text_ids[0], "status"] == "priorisiert"
    assert set(text_ids) <= set(after.index)  # text ids matched by their terms
    assert (theme_history(ws, WZ)["note"] == "Beschlussvorlage zur Psychotherapie-Versorgung").any()

    assert main(["themes", "list", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert WZ in out and "in der Lenkungsgruppe" in out
    for barrier, domain in generate.LOCAL_CODED_THEMES:
        assert f"T-{barrier}-{domain} " not in out
