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
from flows.command import file_system_error
from flows.workdir import RunWorkDir, clean_abandoned
from tests.support import PROJECT


@pytest.fixture(autouse=True)
def _own_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "w"
    monkeypatch.setenv(workdir.WORK_DIR_ENV, str(root))
    return root


def _open_below_root() -> list[str]:
    """What this process holds open below the work root (the run locks), by path: only those,
    since other threads of the process (a test's sandbox ending) open and close files too."""
    root, found = str(workdir.root()), []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith(root):
            found.append(target)
    return sorted(found)


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


def _killed(folder: Path, *, lock_file: bool = True) -> Path:
    """What a SIGKILL leaves: the files stay, the lock is free (``lock_file=False``: left
    without a lock file, by an older version of the tool, long ago)."""
    folder.mkdir(parents=True)
    killed = RunWorkDir(folder)
    os.close(killed._lock)
    if not lock_file:
        (killed.path / ".lock").unlink()
        old = time.time() - 2 * workdir._YOUNG_S
        os.utime(killed.path, (old, old))
    return killed.path


@pytest.mark.parametrize("lock_file", [True, False], ids=["locked", "no lock file"])
def test_a_directory_being_removed_is_removed_and_announced_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lock_file: bool) -> None:
    folder = tmp_path / "runs" / "killed"
    killed = _killed(folder, lock_file=lock_file)
    said: list[str] = []
    nested: list[list[Path]] = []
    looked: list[bool] = []  # the second command looks round once
    real_rmtree = workdir.shutil.rmtree

    def rmtree(path: Path, ignore_errors: bool = False) -> None:
        if not looked:
            looked.append(True)
            nested.append(clean_abandoned(said.append))  # a second command looks round meanwhile
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(workdir.shutil, "rmtree", rmtree)
    assert clean_abandoned(said.append) == [killed]
    assert nested == [[]]
    assert len(said) == 1 and str(folder.resolve()) in said[0]
    assert (folder / "killed.txt").read_text().count("was killed") == 1
    assert _entries() == []


def test_a_command_that_finds_the_lock_free_after_another_removed_the_directory_says_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Between opening a killed run's lock file and taking the lock, another command takes it,
    removes the directory and lets go: the lock is then free, and not that directory's."""
    folder = tmp_path / "runs" / "killed"
    killed = _killed(folder)
    said: list[str] = []
    nested: list[list[Path]] = []
    looked: list[bool] = []  # the second command looks round once
    real_flock = workdir.fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if operation == workdir.fcntl.LOCK_EX | workdir.fcntl.LOCK_NB and not looked:
            looked.append(True)
            nested.append(clean_abandoned(said.append))
        real_flock(fd, operation)

    monkeypatch.setattr(workdir.fcntl, "flock", flock)
    assert clean_abandoned(said.append) == []
    assert nested == [[killed]]
    assert len(said) == 1 and (folder / "killed.txt").read_text().count("was killed") == 1
    assert _entries() == []


def test_a_run_that_cannot_make_its_directory_leaves_nothing() -> None:
    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    before = _open_below_root()
    # its own patch: `monkeypatch.undo()` would also undo _own_root's, and the checks below would
    # look at the default work root, where the suite's in-process runs (every worker's) live
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(workdir.os, "rename", full)
        for _ in range(5):
            with pytest.raises(OSError, match="No space left"):
                RunWorkDir()
    assert _open_below_root() == before  # each lock let go
    clean_abandoned(lambda _: None)  # nothing announced: nothing looks killed
    assert [name for name in _entries() if not name.startswith(".new-")] == []


def test_closing_twice_closes_nothing_else() -> None:
    work = RunWorkDir()
    work.close()
    other = os.open(os.devnull, os.O_RDONLY)  # may take the number the lock had
    try:
        work.close()
        os.fstat(other)
    finally:
        os.close(other)
    assert _entries() == []


def test_a_removal_cut_short_is_finished_without_a_word() -> None:
    going = workdir.root() / ".gone-0123abcd"
    (going / "tmp").mkdir(parents=True)
    (going / "run-folder").write_text("/somewhere/runs/x\n")
    said: list[str] = []
    assert clean_abandoned(said.append) == []
    assert said == [] and _entries() == []


_LOOK_ROUND = """
import os, sys, time
from flows.workdir import clean_abandoned
said, end = [], time.monotonic() + 120
while not os.path.exists(sys.argv[1]) and time.monotonic() < end:  # until the runs are done
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


def test_runs_and_look_rounds_side_by_side_never_touch_a_living_run(tmp_path: Path) -> None:
    """Real processes: two making and removing their directories as fast as they can, two
    looking round for killed runs meanwhile. (Before the fix: about one run in a thousand
    lost its directory, and one look-round in two ended in a traceback.)"""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    python = [sys.executable, "-c"]
    done = tmp_path / "runs-done"
    rounds = [subprocess.Popen([*python, _LOOK_ROUND, str(done)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    runs = [subprocess.Popen([*python, _RUN, "1500"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for proc in runs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert out.strip() == "0", f"{out}\n{err}"  # no run failed
    finally:
        done.touch()
    for proc in rounds:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "0", f"{out}\n{err}"  # no living run announced as killed
    assert _entries() == []


def test_only_what_this_tool_names_is_ever_removed() -> None:
    """IHUB_WORK_DIR pointed at a directory with other things in it (a home, a project): a
    directory without a lock, however old, is removed only if it has a name this tool gives
    and holds what a run's directory holds, nothing else."""
    root = workdir.root()
    layouts = {
        "photos": ["inside/"], "2024": ["inside/"], ".config": ["inside/"],
        "123-not-hex": ["trace/", "tmp/"], "1234-abcdefabcdefabcdef0": ["trace/", "tmp/"],  # not a name it gives
        "123-abcd": ["inside/"],  # a name like its own, without what a run's directory holds
        "125-abcd": ["trace/", "tmp/", "notes"],  # more than a run's directory holds
        "124-abcd": ["trace/", "tmp/", "run-folder"],  # an older version's, without a lock file, long ago
    }
    for name, inside in layouts.items():
        for entry in inside:
            target = root / name / entry.rstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.mkdir() if entry.endswith("/") else target.write_text("/somewhere/runs/x\n")
        old = time.time() - 2 * workdir._YOUNG_S
        os.utime(root / name, (old, old))
    theirs = sorted(set(layouts) - {"124-abcd"})
    assert clean_abandoned(lambda _: None) == [root / "124-abcd"]
    assert _entries() == sorted(theirs)


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o775, 0o757])
def test_a_work_directory_the_operator_named_keeps_its_mode(_own_root: Path, mode: int) -> None:
    """IHUB_WORK_DIR may be a home or a project directory: its mode is never changed. Readable
    by others, it is used (each run's directory in it is 0700); writable by others (who could
    swap a run's directory), refused. The default directory, the tool's own, is closed."""
    _own_root.mkdir()
    os.chmod(_own_root, mode)
    if mode & 0o022:
        with pytest.raises(OSError) as refused:
            RunWorkDir()
        assert f"others can write to (mode {mode:o}; `chmod go-w` it) (the work directory: set IHUB_WORK_DIR" in refused.value.strerror
    else:
        with RunWorkDir() as work:
            assert work.path.stat().st_mode & 0o777 == 0o700
    assert _own_root.stat().st_mode & 0o777 == mode


def test_a_directory_shared_with_others_is_refused_as_it_is(_own_root: Path) -> None:
    _own_root.mkdir(mode=0o700)
    os.chmod(_own_root, 0o1777)  # like /tmp
    (_own_root / "someone-elses").mkdir()
    with pytest.raises(OSError) as refused:
        RunWorkDir()
    assert refused.value.filename == str(_own_root) and "shared with others (mode 1777) (the work directory: set IHUB_WORK_DIR to another)" in refused.value.strerror
    assert file_system_error(refused.value).message.startswith(f"cannot use {_own_root}: a directory shared with others")
    assert clean_abandoned(lambda _: None) == []
    assert _own_root.stat().st_mode & 0o7777 == 0o1777  # not closed to 0700 under everyone's feet
    assert [p.name for p in _own_root.iterdir()] == ["someone-elses"]


def test_the_default_work_directory_is_closed_to_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default ($TMPDIR/ihub-bootstrap-<uid>) is the tool's own: found looser (made by a
    umask of 002, or by hand), it is closed to 0700."""
    import tempfile

    monkeypatch.delenv(workdir.WORK_DIR_ENV)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    own = tmp_path / f"ihub-bootstrap-{os.geteuid()}"
    own.mkdir()
    os.chmod(own, 0o775)
    assert workdir.root() == own and own.stat().st_mode & 0o777 == 0o700
