"""The switches Chromium is launched with (``flows.provision.CHROMIUM_ARGS``), read back from
Chromium's own account of them (chrome://version lists the features a launch turned off).

Chromium keeps only the last ``--disable-features``; Playwright passes its own before ours. So
ours must repeat Playwright's list: if a Playwright upgrade turns off one more feature, the
first test fails and names it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import BrowserType

from flows.provision import CHROMIUM_ARGS, UNUSED_FEATURES


def disabled_features(browser_type: BrowserType, launch_args: dict[str, Any], args: list[str]) -> set[str]:
    """The features Chromium says it runs with off, for a launch with ``args``."""
    browser = browser_type.launch(**{**launch_args, "args": args})
    try:
        page = browser.new_page()
        page.goto("chrome://version/?show-variations-cmd")
        text = page.locator("body").inner_text()
        browser_ui = [t["url"] for t in browser.new_browser_cdp_session().send("Target.getTargets")["targetInfos"]]
    finally:
        browser.close()
    # the last line naming them is the effective one (the command line's come first)
    found = re.findall(r'--disable-features="?([^"\s]*)"?', text)
    assert found, text[:2000]
    features = set(filter(None, found[-1].split(",")))
    if any(url.startswith("chrome://omnibox-popup") for url in browser_ui):
        features.add("(omnibox popup loaded)")
    return features


@pytest.fixture(scope="module")
def launches(browser_type: BrowserType, browser_type_launch_args: dict[str, Any]) -> tuple[set[str], set[str]]:
    ours = disabled_features(browser_type, browser_type_launch_args, CHROMIUM_ARGS)
    plain = disabled_features(
        browser_type, browser_type_launch_args, [a for a in CHROMIUM_ARGS if not a.startswith("--disable-features=")]
    )
    return ours, plain


def test_playwrights_own_disabled_features_stay_disabled(launches: tuple[set[str], set[str]]) -> None:
    ours, plain = launches
    lost = sorted(plain - ours - {"(omnibox popup loaded)"})
    assert not lost, f"add {lost} to flows.provision.PLAYWRIGHT_DISABLED_FEATURES (Playwright turns them off)"


def test_the_address_bar_popup_is_not_loaded_into_headless_windows(launches: tuple[set[str], set[str]]) -> None:
    ours, plain = launches
    assert "(omnibox popup loaded)" in plain  # what the switch is for: Chromium does load it
    assert "(omnibox popup loaded)" not in ours
    assert set(UNUSED_FEATURES) <= ours
