"""Issue 13 in Chromium: a provider sees only its own data-quality flags and reviews one; the
review is kept (append-only) with its user, and no other provider's flag is offered."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboards import read
from dashboards.auth import add_user
from kernel import decisions
from kernel.workspace import Workspace
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_dashboard_roles import _login, _main_text, _open, _settle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


OPTION_TEXTS = """() => {
    const texts = [...document.querySelectorAll("[role='option']")]
        .map(o => o.innerText.trim()).filter(Boolean);
    return texts.length ? texts : null;
}"""


def _options(page, form) -> list[str]:
    """The texts of the form's selectbox options, read in one step once its list shows them.
    The list is opened again (at most three times) when it shows none within 10 s: on a loaded
    CI machine the options were there when waited for and gone when read a moment later."""
    for _ in range(3):
        form.locator("[data-testid='stSelectbox'] input").click()
        page.keyboard.press("ArrowDown")  # opens the list (a click only focuses it)
        try:
            return page.wait_for_function(OPTION_TEXTS, timeout=10_000).json_value()
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError("Die Auswahlliste der Hinweise zeigt keine Einträge")


def test_a_provider_reviews_only_its_own_flags(browser, dashboard_url, e2e_workspace):
    src = read.Source.of(e2e_workspace)
    flags = read.flags(src, src.viewer("koordination"), read.ALL)
    owners = sorted(flags["provider_id"].unique())
    assert len(owners) >= 2, "the generated network has flags at two providers at least"
    own, others = owners[0], owners[1:]
    add_user(Workspace(e2e_workspace).users_file, "e2e-flags", "traeger", PASSWORD, provider=own)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="de-DE")
    try:
        _login(page, dashboard_url, "e2e-flags")
        _open(page, "lieferungen")
        text = _main_text(page)
        assert "Datenqualität je Träger" in text
        assert not [o for o in others if o in text]
        form = page.locator("[data-testid='stForm']")
        options = _options(page, form)
        assert options and all(o.startswith(f"{own} ·") for o in options)
        page.keyboard.press("Escape")
        form.get_by_text("erklärt", exact=True).click()
        form.get_by_label("Erklärung").fill("Merkmal wird erst ab 2027 erhoben")
        form.get_by_role("button", name="Prüfstatus speichern").click()
        page.wait_for_selector("text=Hinweis gespeichert: erklärt", timeout=30_000)
        _settle(page)
    finally:
        page.close()
    reviews = decisions.read(e2e_workspace, "flag")
    assert reviews[-1]["provider_id"] == own and reviews[-1]["user"] == "e2e-flags"
    assert reviews[-1]["state"] == "erklaert" and reviews[-1]["role"] == "traeger"
