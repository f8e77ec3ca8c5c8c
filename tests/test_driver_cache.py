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


@pytest.mark.parametrize("how", ["open to others", "a symlink", "another owner", "in another user's home"])
def test_a_cache_someone_else_could_write_is_not_used(tmp_path: Path, how: str) -> None:
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
    elif how == "open to others":
        cache.mkdir(mode=0o700)
        cache.chmod(0o777)
    elif how == "a symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        cache.symlink_to(elsewhere)
    else:
        if os.getuid() != 0:
            pytest.skip("giving a directory to another owner needs root")
        cache.mkdir(mode=0o700)
        os.chown(cache, 65534, 65534)
    os.environ["XDG_CACHE_HOME"] = str(tmp_path)
    try:
        assert compile_cache_dir() is None
    finally:
        del os.environ["XDG_CACHE_HOME"]
    given, _ = start_driver(tmp_path)
    assert given == ""  # the driver compiles afresh
    assert not list(tmp_path.rglob("v*-x64-*")), "the driver wrote code where others can write"


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
