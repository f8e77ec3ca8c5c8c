"""One apply at a time per target: a second concurrent run against the same base URL is
refused, not interleaved (two runs could both decide to create the same hub)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from flows.errors import LockedError


def lock_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ihub-bootstrap" / "locks"


def lock_path(base_url: str) -> Path:
    return lock_dir() / (hashlib.sha256(base_url.encode()).hexdigest()[:16] + ".lock")


@contextlib.contextmanager
def target_lock(base_url: str) -> Iterator[None]:
    """flock on a file per target, removed again when the run ends (none is left behind).

    Removing a lock file races with a second run that opened it before the removal and then
    gets the lock on a file no longer in the directory; so after locking, the file must still
    be the one at ``path`` (same inode), else the lock is taken again on the new file.
    (``filelock`` was considered: its Unix lock leaves the file behind, for the same reason.)
    """
    path = lock_path(base_url)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LockedError(
                f"another apply against {base_url} is running ({holder})",
                where=str(path),
                hint="wait for it to finish; if no such process exists any more, the lock is released "
                "automatically and you can run again",
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the file was removed by the run that just finished: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}".encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still holding the lock: nobody else can be inside
        os.close(fd)  # closing releases the lock
