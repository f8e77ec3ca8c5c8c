"""Find, or install, the Chromium this tool drives. Run by ``make`` before tests and rehearsals.

Order: ``IHUB_BROWSER`` if set; else a system Chromium (``/usr/bin/chromium``); else
Playwright's own Chromium (``python -m playwright install chromium``); else, as root on a
Debian-like system, ``apt-get install -y chromium`` (then ``chromium-headless-shell``); otherwise a
message saying what to install. Fast when a browser is already there: no network, no subprocess.

Headless runs prefer Chromium's headless shell (Debian's ``chromium-headless-shell``, the
build Playwright itself launches for ``headless=True``): the same engine and version without
the desktop browser's windowing, GPU process and browser UI, about a third less CPU per page
(see docs/benchmarks.md). Headed runs, and any run with ``IHUB_BROWSER`` set, use the full
Chromium; without the shell, headless runs use the full Chromium's headless mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
# Debian's headless shell: the binary itself first (the /usr/bin one is a `sh` wrapper that does
# not exec it, so the browser would be a child of the launched process: one process more, and a
# signal to the launched one would miss the browser), then that wrapper.
SYSTEM_HEADLESS_SHELLS = (Path("/usr/lib/chromium/chromium-headless-shell"), Path("/usr/bin/chromium-headless-shell"))
# The features Playwright 1.65 itself turns off (its chromiumSwitches.ts). Chromium keeps only
# the last --disable-features switch, and ours comes after Playwright's: so it repeats them.
# tests/test_pages.py checks against Chromium's own account (chrome://version) that a launch
# with CHROMIUM_ARGS has every feature off that Playwright's plain launch has off.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
# Chromium 156 loads its address bar's drop-down (two chrome://omnibox-popup pages, in a renderer
# of their own) into every new window, headless too, where nobody can open it: about 70 ms of
# CPU for each browser page the run opens (the widget pages too), 15-25 % of a page's cost.
UNUSED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
# Without the first four, Chromium reaches for Google's hosts at start-up (refused on closed networks).
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + UNUSED_FEATURES),
    # WebRTC sends UDP past any proxy: a page's script could send what it reads (a typed
    # password, a shown API key) to another origin, the origin guard notwithstanding. Only
    # what goes through the proxy (which refuses it) is left.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]


class NoBrowser(Exception):
    pass


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def playwright_chromium() -> Path | None:
    """Playwright's own Chromium, when ``playwright install chromium`` put it there."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        path = Path(p.chromium.executable_path)
    return path if _executable(path) else None


def find_browser(*, headless: bool = False) -> Path | None:
    """The Chromium to launch: ``None`` means Playwright's own (already installed; Playwright
    then picks its own headless shell for a headless launch). ``headless``: a launch without a
    window, for which the system's headless shell is preferred."""
    configured = os.environ.get("IHUB_BROWSER")
    if configured:
        path = Path(configured).expanduser()
        if not _executable(path):
            raise NoBrowser(f"IHUB_BROWSER={configured} is not an executable file")
        return path
    for shell in SYSTEM_HEADLESS_SHELLS if headless else ():
        if _executable(shell):
            return shell
    if _executable(SYSTEM_CHROMIUM):
        return SYSTEM_CHROMIUM
    if playwright_chromium() is not None:
        return None
    raise NoBrowser("no Chromium found")


def _run(cmd: list[str]) -> bool:
    print(f"provision: {' '.join(cmd)}", file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=False).returncode == 0


def provision() -> str:
    try:
        found = find_browser()
        return str(found) if found else "Playwright's Chromium"
    except NoBrowser as exc:
        if os.environ.get("IHUB_BROWSER"):
            raise
        print(f"provision: {exc}; installing one", file=sys.stderr)
    if _run([sys.executable, "-m", "playwright", "install", "chromium"]) and playwright_chromium():
        return "Playwright's Chromium"
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([apt, "update", "-qq"], check=False, env=env)
        if subprocess.run([apt, "install", "-y", "-qq", "chromium"], check=False, env=env).returncode == 0:
            # the shell on its own: a distribution without it still gets a working Chromium
            subprocess.run([apt, "install", "-y", "-qq", "chromium-headless-shell"], check=False, env=env)
            if _executable(SYSTEM_CHROMIUM):
                return str(SYSTEM_CHROMIUM)
    raise NoBrowser(
        "could not install a Chromium. Install one of: Debian/Ubuntu `sudo apt-get install chromium`; "
        "or `.venv/bin/python -m playwright install chromium` (needs internet); "
        "or point IHUB_BROWSER at a Chromium/Chrome executable."
    )


def browser_name(*, headless: bool = False) -> str:
    """What :func:`find_browser` picks, as a person reads it."""
    found = find_browser(headless=headless)
    return str(found) if found else "Playwright's headless shell" if headless else "Playwright's Chromium"


def describe() -> str:
    """Which executables headless and headed runs launch (after :func:`provision`)."""
    headed, headless = find_browser(), find_browser(headless=True)
    if headless == headed:
        return browser_name()
    return f"{browser_name(headless=True)} (headless), {browser_name()} (headed)"


def main() -> int:
    try:
        provision()
        print(f"browser: {describe()}")
    except NoBrowser as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
