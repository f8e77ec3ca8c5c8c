"""Which Chromium a run launches (``flows.provision.find_browser``): headless runs the headless
shell where the system has it, headed runs the full Chromium, ``IHUB_BROWSER`` both; and what
``make`` prints about it. Stand-in executables in a temporary folder, and the real ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import BrowserType

from flows import provision
from flows.browser import executable
from flows.provision import CHROMIUM_ARGS, NoBrowser, find_browser
from flows.settings import ExplicitSettings
from tests.support import PROJECT


def _program(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A system with both executables (stand-ins), no IHUB_BROWSER."""
    full, shell = _program(tmp_path / "chromium"), _program(tmp_path / "chromium-headless-shell")
    monkeypatch.setattr(provision, "SYSTEM_CHROMIUM", full)
    monkeypatch.setattr(provision, "SYSTEM_HEADLESS_SHELLS", (tmp_path / "lib-shell", shell))  # lib-shell: not there
    monkeypatch.delenv("IHUB_BROWSER", raising=False)
    return full, shell


def test_headless_runs_take_the_shell_and_headed_runs_the_full_chromium(system: tuple[Path, Path]) -> None:
    full, shell = system
    assert find_browser(headless=True) == shell
    assert find_browser() == full
    settings = ExplicitSettings(base="http://127.0.0.1:9")
    assert executable(settings, headless=True) == str(shell)
    assert executable(settings) == str(full)
    assert provision.describe() == f"{shell} (headless), {full} (headed)"


def test_without_the_shell_headless_runs_take_the_full_chromium(system: tuple[Path, Path]) -> None:
    full, shell = system
    shell.chmod(0o644)  # there, not executable: as good as missing
    assert find_browser(headless=True) == full
    assert provision.describe() == str(full)


@pytest.mark.parametrize("how", ["env", "setting"])
def test_a_configured_browser_is_used_for_both(
    system: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    mine = _program(tmp_path / "my-chrome")
    if how == "env":
        monkeypatch.setenv("IHUB_BROWSER", str(mine))
        assert find_browser(headless=True) == find_browser() == mine
    else:
        settings = ExplicitSettings(base="http://127.0.0.1:9", browser=mine)
        assert executable(settings, headless=True) == executable(settings) == str(mine)


def test_the_shell_alone_is_no_browser_for_headed_runs(system: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    full, shell = system
    full.unlink()
    monkeypatch.setattr(provision, "playwright_chromium", lambda: None)
    assert find_browser(headless=True) == shell
    with pytest.raises(NoBrowser):
        find_browser()


@pytest.mark.skipif(
    not (provision._executable(provision.SYSTEM_HEADLESS_SHELLS[0]) and provision._executable(provision.SYSTEM_CHROMIUM)),
    reason="Debian's chromium and chromium-headless-shell (apt-get install chromium chromium-headless-shell)",
)
def test_the_real_shell_runs_our_switches_and_is_what_make_reports(browser_type: BrowserType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's shell (the binary, not its wrapper) starts with the switches the full Chromium
    gets, reports the same version (one source package), and `make`'s provisioning names both."""
    monkeypatch.delenv("IHUB_BROWSER", raising=False)  # the machine's choice would win over both
    shell, full = find_browser(headless=True), find_browser()
    assert shell == provision.SYSTEM_HEADLESS_SHELLS[0] and full == provision.SYSTEM_CHROMIUM
    versions = []
    for path in (shell, full):
        browser = browser_type.launch(executable_path=str(path), headless=True, args=CHROMIUM_ARGS)
        versions.append(browser.version)
        page = browser.new_page()
        page.set_content("<h1>ok</h1>")
        assert page.get_by_role("heading", name="ok").is_visible()
        browser.close()
    assert versions[0] == versions[1], versions
    env = {k: v for k, v in os.environ.items() if k != "IHUB_BROWSER"}
    out = subprocess.run([sys.executable, "-m", "flows.provision"], cwd=PROJECT, env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"browser: {shell} (headless), {full} (headed)"
