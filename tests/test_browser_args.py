"""The switches Chromium is launched with (``flows.provision.CHROMIUM_ARGS``), read back from
Chromium's own account of them (chrome://version lists the features a launch turned off).

Chromium keeps only the last ``--disable-features``; Playwright passes its own before ours. So
ours must repeat Playwright's list: if a Playwright upgrade turns off one more feature, the
first test fails and names it.

These launches use the full Chromium (headed runs, and headless ones where the system has no
headless shell): the headless shell has neither an address bar nor chrome://version.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import BrowserType

from flows.provision import CHROMIUM_ARGS, UNUSED_FEATURES, find_browser


def launched(browser_type: BrowserType, launch_args: dict[str, Any], args: list[str]) -> tuple[set[str], bool]:
    """For a launch with ``args``: the features Chromium says it runs with off, and whether it
    loaded its address bar's popup pages."""
    browser = browser_type.launch(**{**launch_args, "args": args})
    try:
        page = browser.new_page()
        page.goto("chrome://version/?show-variations-cmd")
        text = page.locator("body").inner_text()
        targets = browser.new_browser_cdp_session().send("Target.getTargets")["targetInfos"]
    finally:
        browser.close()
    # the last line naming them is the effective one (the command line's come first)
    found = re.findall(r'--disable-features="?([^"\s]*)"?', text)
    assert found, text[:2000]
    popup = any(t["url"].startswith("chrome://omnibox-popup") for t in targets)
    return set(filter(None, found[-1].split(","))), popup


Launch = tuple[set[str], bool]


@pytest.fixture(scope="module")
def launches(browser_type: BrowserType, browser_type_launch_args: dict[str, Any]) -> tuple[Launch, Launch]:
    full = find_browser()
    launch_args = {**browser_type_launch_args, "executable_path": str(full) if full else None}
    if full is None:  # Playwright's own: its full Chromium, not the shell it picks for headless
        launch_args["channel"] = "chromium"
    ours = launched(browser_type, launch_args, CHROMIUM_ARGS)
    plain = launched(browser_type, launch_args, [a for a in CHROMIUM_ARGS if not a.startswith("--disable-features=")])
    return ours, plain


def test_playwrights_own_disabled_features_stay_disabled(launches: tuple[Launch, Launch]) -> None:
    (ours, _), (plain, _) = launches
    lost = sorted(plain - ours)
    assert not lost, f"add {lost} to flows.provision.PLAYWRIGHT_DISABLED_FEATURES (Playwright turns them off)"


def test_the_address_bar_popup_is_not_loaded_into_headless_windows(launches: tuple[Launch, Launch]) -> None:
    (ours, popup_ours), (_, popup_plain) = launches
    assert popup_plain  # what the switch is for: Chromium does load it
    assert not popup_ours
    assert set(UNUSED_FEATURES) <= ours
