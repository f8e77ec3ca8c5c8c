"""Node's compile cache for Playwright's driver (``flows.browser.compile_cache_dir``): every
run starts the driver, and most of that start is Node compiling Playwright's code. The cache
holds code the driver runs, so it must be this user's alone, or not used at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.browser import COMPILE_CACHE_ENV, compile_cache_dir, driver_environment

# Start and stop the driver as a run does, in a process of its own (the test worker's own
# Playwright must not share its thread); print what the driver was started with.
START_DRIVER = """
import os
from playwright.sync_api import sync_playwright
from flows.browser import driver_environment
with driver_environment(None):
    seen = os.environ.get("NODE_COMPILE_CACHE", "")
    playwright = sync_playwright().start()
playwright.stop()
print(seen)
print(os.environ.get("NODE_COMPILE_CACHE", "<unset after>"))
"""


def start_driver(cache_home: Path, **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in (COMPILE_CACHE_ENV, "NODE_DISABLE_COMPILE_CACHE")}
    environ.update(XDG_CACHE_HOME=str(cache_home), **env)
    done = subprocess.run([sys.executable, "-c", START_DRIVER], env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def cached_files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_the_driver_is_compiled_once_into_a_cache_only_this_user_can_write(tmp_path: Path) -> None:
    cache = tmp_path / "ihub-bootstrap" / "node-compile-cache"
    given, after = start_driver(tmp_path)
    assert given == str(cache)
    assert after == "<unset after>"  # the tool's own environment is left as it was
    assert cache.stat().st_mode & 0o777 == 0o700
    assert cached_files(cache), "the driver wrote nothing to the compile cache"
    again, _ = start_driver(tmp_path)  # a second run reads it (and finds it still safe)
    assert again == str(cache)


@pytest.mark.parametrize("how", ["a symlink", "another owner", "in another user's home"])
def test_a_cache_someone_else_could_write_is_not_used(tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "ihub-bootstrap" / "node-compile-cache"
    cache.parent.mkdir(mode=0o700)
    if how == "in another user's home":  # root, with HOME left at a user's: the user could swap it
        if os.getuid() != 0:
            pytest.skip("a home of another user needs root")
        home = tmp_path / "alice"
        home.mkdir(mode=0o755)
        os.chown(home, 65534, 65534)
        tmp_path = home / ".cache"
        cache = tmp_path / "ihub-bootstrap" / "node-compile-cache"
    elif how == "a symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        cache.symlink_to(elsewhere)
    else:
        if os.getuid() != 0:
            pytest.skip("giving a directory to another owner needs root")
        cache.mkdir(mode=0o700)
        os.chown(cache, 65534, 65534)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache_dir() is None
    given, _ = start_driver(tmp_path)
    assert given == ""  # the driver compiles afresh
    assert not list(tmp_path.rglob("v*-*")), "the driver wrote code where others can write"


def test_the_operators_own_choice_is_kept(tmp_path: Path) -> None:
    own = tmp_path / "own"
    assert start_driver(tmp_path, NODE_COMPILE_CACHE=str(own))[0] == str(own)
    assert start_driver(tmp_path, NODE_DISABLE_COMPILE_CACHE="1")[0] == ""
    assert not (tmp_path / "ihub-bootstrap").exists()


def test_the_driver_is_given_the_caches_real_path(tmp_path: Path) -> None:
    """A link on the way (a cache home that is a symbolic link) could be re-pointed after the
    check: the driver gets the path it points to now."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    given, _ = start_driver(tmp_path / "link")
    assert given == str(real / "ihub-bootstrap" / "node-compile-cache")


def _cache_for(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path | None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return compile_cache_dir()


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o1777])
def test_a_directory_above_the_cache_that_others_can_write_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int) -> None:
    """Group- or world-writable above the cache: others could swap it, unless the directory is
    sticky (as /tmp is: only an entry's owner may rename it)."""
    above = tmp_path / "shared"
    above.mkdir()
    above.chmod(mode)
    found = _cache_for(above / "cache", monkeypatch)
    if mode & 0o1000:
        assert found == above / "cache" / "ihub-bootstrap" / "node-compile-cache"
    else:
        assert found is None
        assert not (above / "cache").exists(), "made a directory where others can write"


@pytest.mark.parametrize("mode", [0o775, 0o777])
def test_a_loose_umask_still_gives_a_closed_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int) -> None:
    """Made under umask 002 (user-private groups), or left open by an earlier tool: closed to
    0700 and used (what is in it is checked, see below)."""
    (tmp_path / "ihub-bootstrap" / "node-compile-cache").mkdir(parents=True)
    for directory in (tmp_path / "ihub-bootstrap", tmp_path / "ihub-bootstrap" / "node-compile-cache"):
        directory.chmod(mode)
    old = os.umask(0o002)
    try:
        found = _cache_for(tmp_path, monkeypatch)
    finally:
        os.umask(old)
    assert found == tmp_path / "ihub-bootstrap" / "node-compile-cache"
    for directory in (found, found.parent):
        assert directory.stat().st_mode & 0o777 == 0o700, oct(directory.stat().st_mode)


@pytest.mark.parametrize("plant", ["a file others can write", "a link", "another owner's file"])
def test_a_cache_with_something_planted_in_it_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plant: str) -> None:
    """Written while it was open to others: whatever is in it must be this user's, closed."""
    cache = _cache_for(tmp_path, monkeypatch)
    assert cache is not None
    entry = cache / "v0-planted" / "code"
    entry.parent.mkdir(mode=0o700)
    if plant == "a link":
        entry.symlink_to(tmp_path / "elsewhere")
    else:
        entry.write_bytes(b"planted")
        entry.chmod(0o666 if plant == "a file others can write" else 0o600)
        if plant == "another owner's file":
            if os.getuid() != 0:
                pytest.skip("giving a file to another owner needs root")
            os.chown(entry, 65534, 65534)
    assert compile_cache_dir() is None
    entry.unlink()
    assert compile_cache_dir() == cache  # once it is gone, the cache is used again


# The driver's session: its own (out of the tool's process group), and the patch that gives it
# one put back once the driver is up.
DRIVER_SESSION = """
import asyncio, os
from playwright.sync_api import sync_playwright
from flows.browser import driver_environment
real = asyncio.create_subprocess_exec
with driver_environment(None):
    playwright = sync_playwright().start()
kids = [int(p) for p in open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()]
drivers = [p for p in kids if b"run-driver" in open(f"/proc/{p}/cmdline", "rb").read()]
print(len(drivers), all(os.getsid(p) == p != os.getsid(0) for p in drivers), asyncio.create_subprocess_exec is real)
playwright.stop()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_driver_runs_in_a_session_of_its_own() -> None:
    done = subprocess.run([sys.executable, "-c", DRIVER_SESSION], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "True", "True"]
