"""Debian's headless Chromium, as every browser test here starts it (Playwright cannot fetch
its own browser on these machines)."""

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
]


def launch(playwright, extra_args: tuple[str, ...] = ()):
    """A headless Chromium browser from Playwright's sync API."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
