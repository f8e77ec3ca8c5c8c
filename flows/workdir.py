"""The tool's private working directory on this machine, and what a killed run leaves there.

While a run goes, some files hold secrets in clear until the run folder is finished: the raw
trace parts (scrubbed only when merged) and what Playwright's driver and Chromium keep in
their temporary directory (trace files being written, the browser profile with its cookies).
All of it goes into one directory per run, mode 0700, below

    $IHUB_WORK_DIR   (default: $TMPDIR/ihub-bootstrap-<uid>, e.g. /tmp/ihub-bootstrap-1000)

kept short on purpose: Chromium puts Unix sockets there, whose paths may not exceed 107 bytes.

The run holds a lock on its directory while it lives. A run that ends in any way but SIGKILL
removes its directory itself; after a SIGKILL (or a power cut) the lock is free, and the next
run of any ``ihub-bootstrap`` command on this machine removes the directory, notes that in
the run folder it belonged to, and tells the operator.

Commands run side by side (two operators, or a test suite's workers, under one user), and each
command looks for what killed runs left. So a run's directory gets its final name only once it
holds its lock: it is made under a hidden name (``.new-…``), which another command removes only
when it is old and unlocked, locked, and then renamed. (Made under its final name, another
command could find the lock file created and not yet locked, take the directory for a killed
run's, and remove it from under the run: "cannot use …: No such file or directory".) Whoever
removes a directory, its run or another command, holds its lock and first renames it to a
hidden ``.gone-…`` name (atomic: one command wins), so it is announced once, and a removal cut
short leaves nothing that looks like a killed run's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_LOCK = ".lock"
_RUN_FOLDER = "run-folder"
_MAKING = ".new-"  # a run's directory while it is made, before it holds its lock
_GOING = ".gone-"  # a directory being removed (renamed first, see _discard)
_NOTHING_HELD = -1
# the names this tool gives (``<pid>-<hex>``, 16-bit hex before 031b1e6): nothing else in the
# root is ever removed, whatever IHUB_WORK_DIR points at
_OURS = re.compile(r"(?:\.new-)?[0-9]+-[0-9a-f]{4,16}|\.gone-[0-9a-f]{8}")
_YOUNG_S = 60  # a directory without its lock file yet may be one being created right now


WORK_DIR_ENV = "IHUB_WORK_DIR"


def private_directory(path: Path, *, parents: bool = False, tighten: bool = True) -> Path:
    """``path`` as a directory of this user's alone: made 0700 if missing, closed to 0700 if
    looser (a umask of 002 makes 0775); OSError if it is a link, not a directory, or another
    user's. ``tighten=False`` (a directory the operator named, which may be a home or a
    project): its mode is never changed; one others can write to is refused, one they can only
    read is used as it is (what goes in it is 0700)."""
    path.mkdir(parents=parents, exist_ok=True, mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise OSError(errno.EPERM, "not a directory of this user", str(path))
    mode = stat.S_IMODE(info.st_mode)
    if info.st_mode & stat.S_ISVTX:  # shared, like /tmp: never closed (a umask of 0 gives 0777: closed)
        raise OSError(errno.EPERM, f"a directory shared with others (mode {mode:o})", str(path))
    if not tighten:
        if mode & 0o022:
            raise OSError(errno.EPERM, f"a directory others can write to (mode {mode:o}; `chmod go-w` it)", str(path))
    elif mode != 0o700:
        os.chmod(path, 0o700)
    return path


def root() -> Path:
    configured = os.environ.get(WORK_DIR_ENV)
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / f"ihub-bootstrap-{os.geteuid()}"
    try:
        # the default is this tool's own directory; one the operator named keeps its mode
        return private_directory(path, parents=True, tighten=not configured)
    except OSError as exc:  # say which setting names it
        raise OSError(exc.errno, f"{exc.strerror} (the work directory: set {WORK_DIR_ENV} to another)", str(path)) from None


class RunWorkDir:
    """``with RunWorkDir(run_folder) as work:`` gives ``work.trace`` (raw trace parts) and
    ``work.tmp`` (TMPDIR for Playwright's driver and Chromium), removed on exit."""

    def __init__(self, run_folder: Path | None = None):
        base = root()
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        making = self.path = base / f"{_MAKING}{name}"
        making.mkdir(mode=0o700)
        self._lock = _NOTHING_HELD
        try:
            self._lock = os.open(making / _LOCK, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # held on the file, whatever its directory is called
            if run_folder is not None:
                (making / _RUN_FOLDER).write_text(str(run_folder.resolve()) + "\n", encoding="utf-8")
            (making / "trace").mkdir(mode=0o700)
            (making / "tmp").mkdir(mode=0o700)
            os.rename(making, base / name)
            self.path = base / name
        except BaseException:
            _discard(base / name)  # if the rename was done when this was raised
            self.close()
            raise
        self.trace = self.path / "trace"
        self.tmp = self.path / "tmp"

    def close(self) -> None:
        """Remove the directory, then let go of its lock; once, however often it is called."""
        _discard(self.path)
        if self._lock != _NOTHING_HELD:
            with contextlib.suppress(OSError):
                os.close(self._lock)
            self._lock = _NOTHING_HELD  # a second close must not close a descriptor that took the number

    def __enter__(self) -> RunWorkDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _discard(directory: Path) -> bool:
    """Rename ``directory`` out of the way and remove it; whether this call renamed it. The
    rename is atomic: of two commands removing one directory, one does, and only it announces
    it. And a removal cut short (SIGKILL) leaves a ``.gone-`` directory, never one that looks
    like a killed run's."""
    going = directory.with_name(f"{_GOING}{secrets.token_hex(4)}")
    try:
        os.rename(directory, going)
    except OSError:
        return False
    shutil.rmtree(going, ignore_errors=True)
    return True


def _young(directory: Path) -> bool:
    try:
        return time.time() - directory.lstat().st_mtime <= _YOUNG_S
    except OSError:
        return True  # gone meanwhile: nothing to remove


def _take_abandoned(directory: Path) -> int | None:
    """The lock of ``directory``, held, if no living run holds it: the caller removes the
    directory and then closes the descriptor (``_NOTHING_HELD`` if the directory has no lock
    file: left by an older version of this tool, abandoned once it is no longer young). ``None``
    while a run lives there, while it is being made, or once another command has removed it."""
    if directory.name.startswith(_MAKING) and _young(directory):
        return None  # a run making it may not have locked it yet
    lock = directory / _LOCK
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_NOFOLLOW)
    except FileNotFoundError:  # an older version's, long ago, if it holds what a run's does
        return None if _young(directory) or not _a_runs_layout(directory) else _NOTHING_HELD
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.lstat(lock).st_ino:
            raise OSError("another command removed it meanwhile")
    except OSError:  # a living run holds it, or the lock we hold is no longer that directory's
        os.close(fd)
        return None
    return fd


def _a_runs_layout(directory: Path) -> bool:
    """Whether ``directory`` holds what a run's directory does (``trace/`` and ``tmp/``, maybe
    ``run-folder``) and nothing else: a directory of the operator's that only has a name like
    this tool's is never removed."""
    try:
        names = {p.name for p in directory.iterdir()}
    except OSError:
        return False
    return {"trace", "tmp"} <= names <= {"trace", "tmp", _RUN_FOLDER}


def clean_abandoned(say: Callable[[str], None]) -> list[Path]:
    """Remove what killed runs left behind; ``say`` tells the operator. Returns what went."""
    removed: list[Path] = []
    try:
        candidates = [p for p in root().iterdir() if _OURS.fullmatch(p.name) and p.is_dir() and not p.is_symlink()]
    except OSError:
        candidates = []
    for directory in candidates:
        if directory.name.startswith(_GOING):
            shutil.rmtree(directory, ignore_errors=True)  # a removal cut short: nothing to announce
            continue
        held = _take_abandoned(directory)
        if held is None:
            continue
        try:
            run_folder = None
            with contextlib.suppress(OSError, UnicodeDecodeError):
                run_folder = Path((directory / _RUN_FOLDER).read_text(encoding="utf-8").strip())
            discarded = _discard(directory)
        finally:
            if held != _NOTHING_HELD:
                os.close(held)
        if not discarded:
            continue  # another command removed it first
        removed.append(directory)
        where = f" (run folder {run_folder})" if run_folder else ""
        say(
            f"a run was killed before it could finish{where}: its raw trace parts and browser files "
            f"(never scrubbed) were removed from {directory}; that run has no trace.zip"
        )
        if run_folder is not None:
            with contextlib.suppress(OSError):  # not there any more, or not ours to write to
                with (run_folder / "killed.txt").open("a", encoding="utf-8") as note:
                    note.write(
                        "This run was killed (SIGKILL or a crash) before it could finish: no run-end event, no "
                        "summary, no trace. A later run removed its unscrubbed raw trace parts.\n"
                    )
    return removed
