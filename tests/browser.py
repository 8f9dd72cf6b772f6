"""Debian's headless Chromium, as every browser test here starts it (Playwright cannot fetch
its own browser on these machines), with the screenshots and accessibility checks they share."""

import os
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# The background-networking flags keep Chromium from calling out to a network that is closed.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The player tests press play and read the time: audio starts without a gesture, muted.
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


def launch(playwright):
    """A headless Chromium browser from Playwright's sync API."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# Screenshots the browser tests take, for a person to look at (tests/run.sh leaves them here).
OUTPUT = Path(os.environ.get("PODARCHIVE_TEST_OUTPUT", Path(__file__).parent / "output"))
SCREENSHOTS = OUTPUT / "screenshots"
# The two sizes every page is checked at: a laptop and a phone (iPhone 12-15, CSS pixels).
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# axe-core, installed from the npm registry by tests/run.sh (tests/package.json).
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


def screenshot(page, name: str) -> Path:
    """The whole page as SCREENSHOTS/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of the given impacts on the page as it is now.

    The page's context needs `bypass_csp=True`: the site's Content-Security-Policy refuses
    injected scripts, axe's included.
    """
    if not AXE.is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"{AXE} missing: tests/run.sh installs it with npm")
        import pytest

        pytest.skip("axe-core not installed (npm ci --prefix tests, as tests/run.sh does)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def wait_for_search(page) -> None:
    """Until the search page has finished its search: the results in their final order (on a
    fresh page the ones by meaning are shown first, then the fused list replaces them)."""
    page.wait_for_selector("#search-form[data-state=done]")
