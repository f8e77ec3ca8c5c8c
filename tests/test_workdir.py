"""The private work directory (flows/workdir.py) when commands run side by side under one user.

Every command removes what killed runs left in the shared work root. CI found a run's own
directory removed from under it by another command's look-round ("cannot use
/tmp/ihub-bootstrap-0/…: No such file or directory", exit 3): the directory had its lock file,
not yet locked. These tests put the other command exactly in that moment, and then let real
processes race.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import workdir
from flows.workdir import RunWorkDir, clean_abandoned
from tests.support import PROJECT


@pytest.fixture(autouse=True)
def _own_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "w"
    monkeypatch.setenv(workdir.WORK_DIR_ENV, str(root))
    return root


def _entries() -> list[str]:
    return sorted(p.name for p in workdir.root().iterdir())


def test_another_command_between_the_lock_file_and_the_lock_leaves_the_run_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    real_flock = workdir.fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if operation == workdir.fcntl.LOCK_EX:  # the run is about to lock: another command looks round now
            clean_abandoned(said.append)
        real_flock(fd, operation)

    monkeypatch.setattr(workdir.fcntl, "flock", flock)
    with RunWorkDir(Path("runs/x")) as work:
        (work.trace / "part").write_text("raw")
        (work.tmp / "profile").write_text("raw")
        assert work.path.is_dir() and not work.path.name.startswith(".")
    assert said == []
    assert _entries() == []


def test_a_directory_being_removed_is_removed_and_announced_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "killed"
    folder.mkdir(parents=True)
    killed = RunWorkDir(folder)
    os.close(killed._lock)  # as a SIGKILL leaves it: the files stay, the lock is free
    said: list[str] = []
    nested: list[list[Path]] = []
    real_rmtree = workdir.shutil.rmtree

    def rmtree(path: Path, ignore_errors: bool = False) -> None:
        nested.append(clean_abandoned(said.append))  # a second command looks round meanwhile
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(workdir.shutil, "rmtree", rmtree)
    assert clean_abandoned(said.append) == [killed.path]
    assert nested == [[]]
    assert len(said) == 1 and str(folder.resolve()) in said[0]
    assert (folder / "killed.txt").read_text().count("was killed") == 1
    assert _entries() == []


def test_a_run_killed_while_its_directory_was_made_is_removed_once_old() -> None:
    making = workdir.root() / ".new-123-abcd"
    making.mkdir(mode=0o700)
    (making / ".lock").write_text("")
    assert clean_abandoned(lambda _: None) == []  # young: a run may be locking it right now
    old = time.time() - 2 * workdir._YOUNG_S
    os.utime(making, (old, old))
    assert clean_abandoned(lambda _: None) == [making]
    assert _entries() == []


def test_a_removal_cut_short_is_finished_once_old() -> None:
    left = workdir.root() / "123-abcd"
    (left / "tmp").mkdir(parents=True)  # no lock file: its remover was killed half way
    assert clean_abandoned(lambda _: None) == []
    old = time.time() - 2 * workdir._YOUNG_S
    os.utime(left, (old, old))
    assert clean_abandoned(lambda _: None) == [left]


_LOOK_ROUND = """
import sys, time
from flows.workdir import clean_abandoned
said, end = [], time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    clean_abandoned(said.append)
print(len(said))
"""

_RUN = """
import sys
from flows.workdir import RunWorkDir
failed = 0
for _ in range(int(sys.argv[1])):
    try:
        with RunWorkDir() as work:
            (work.trace / "part").write_text("raw")
            (work.tmp / "profile").write_text("raw")
    except OSError as exc:
        failed += 1
        print(exc, file=sys.stderr)
print(failed)
"""


def test_runs_and_look_rounds_side_by_side_never_touch_a_living_run() -> None:
    """Real processes: two making and removing their directories as fast as they can, two
    looking round for killed runs meanwhile. (Before the fix: about one run in a thousand
    lost its directory, and one look-round in two ended in a traceback.)"""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    python = [sys.executable, "-c"]
    rounds = [subprocess.Popen([*python, _LOOK_ROUND, "3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    runs = [subprocess.Popen([*python, _RUN, "1500"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in [*runs, *rounds]:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "0", f"{out}\n{err}"  # no run failed; no killed run announced
    assert _entries() == []
