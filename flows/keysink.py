"""Where the one-time API key goes, straight from the page: the operator's secret store.

``--key-sink`` takes:

- ``file:PATH``: a JSON document holding one entry per target and consumer (consumer id and
  name, the key), mode 0600, written atomically under a lock: hubs that share one file each
  keep their key. The default is such a file outside the repository, per target and consumer:
  ``$XDG_DATA_HOME/ihub-bootstrap/keys/<host>/<consumer>.json``.
- ``envfile:PATH``: appends ``IHUB_<CONSUMER>_API_CONSUMER_ID=`` and ``IHUB_<CONSUMER>_API_KEY=``
  lines (``IHUB_OPS_HUB_API_KEY`` for ops-hub) to an env-style file, mode 0600.
- ``keyring``: the system keyring (``pip install keyring``), service ``ihub-bootstrap <base URL>``.

A file sink is refused when it is a symbolic link, inside a Git work tree and not ignored by
Git, owned by another user, or in a directory other users can write to.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from flows.errors import BadInputError
from flows.settings import canonical_base


@dataclass(frozen=True)
class StoredKey:
    api_consumer_id: str
    api_key: str

    def __repr__(self) -> str:  # never the key
        return f"StoredKey(api_consumer_id={self.api_consumer_id!r}, api_key=<hidden>)"

    def matches(self, shown_prefix: str) -> bool:
        """Whether this is the key whose beginning the admin UI shows (however long it shows)."""
        return bool(shown_prefix) and self.api_key.startswith(shown_prefix)


class KeySink(Protocol):
    description: str

    def load(self, consumer_id: str) -> StoredKey | None: ...

    def find(self, consumer_name: str) -> StoredKey | None:
        """The key last stored for a consumer of that name (for verify without an id)."""
        ...

    def store(self, consumer_id: str, consumer_name: str, api_key: str) -> None: ...

    def check_writable(self, consumer_name: str, consumer_id: str | None = None) -> None:
        """BadInputError if a key stored now would be lost or would hide another one: called
        when the sink is opened for writing and again just before a key is generated (with
        the consumer's id, once known)."""
        ...


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_private(path: Path, text: str, *, append: bool = False, made: Sequence[Path] = ()) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte on; directories this
    creates are 0700. A replaced file is written beside it and renamed (never half written).
    Durable when this returns: the file is fsynced, and so are the directories whose entries
    changed (the file's, and the parent of each directory made for it, here or by the caller:
    ``made``), after the file is written, so that a failing disk is reported with the key in
    place, not before it is written: a crash must not bring back the file without the key just
    generated (the old key is revoked by then)."""
    made = [*made, *make_directory(path.parent)]
    _write(path, text, append=append)
    _sync_directory(path.parent)  # the new entry, or the rename: durable only once it is
    for directory in made:  # outermost first: each new directory's entry in its parent
        _sync_directory(directory.parent)


def _write(path: Path, text: str, *, append: bool) -> None:
    if append:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        if os.fstat(fd).st_uid != os.geteuid():
            os.close(fd)
            raise PermissionError(f"{path} belongs to another user")
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        return
    tmp = temporary_sibling(path, f"{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.is_symlink():  # checked when the sink was opened; a link put there since is not followed
            raise PermissionError(f"{path} is a symbolic link")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a copy of the secret behind
        raise


def make_directory(directory: Path) -> list[Path]:
    """``directory`` and its missing parents, each 0700; returns those that were missing,
    outermost first (their entries are for :func:`write_private` to fsync, once the key is
    written)."""
    missing = []
    at = directory
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for new in reversed(missing):
        # another process may make it meanwhile: still one to fsync (that process may not have
        # done so yet when this one's key is written)
        with contextlib.suppress(FileExistsError):
            os.mkdir(new, 0o700)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")
    return missing[::-1]


def _sync_directory(directory: Path) -> None:
    """fsync a directory, best effort: the file is written and in place by then, and some
    directories cannot be opened (write and search rights only) or fsynced (some network and
    FUSE file systems), which is no reason to say otherwise; a failing disk (EIO) is."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except PermissionError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _FSYNC_UNSUPPORTED:  # EIO and the like: the disk failed, say so
            raise
    finally:
        os.close(fd)


# a directory fsync some file systems refuse (network, FUSE): no sign that the write failed
_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EPERM, errno.EBADF}


def temporary_sibling(path: Path, token: str) -> Path:
    """Where :func:`write_private` writes ``path``'s new text before the rename: beside it, with
    the token after the name's first part, so that the ignore rule that keeps the file out of Git
    (``*.key.json``, ``storage-state*.json``, ``keys/``) keeps the copy out too should a crash
    (SIGKILL, power) leave it behind: ``ops.key.json`` -> ``ops.ihub-<token>.key.json``."""
    lead, head, dot, tail = _name_parts(path)
    return path.with_name(f"{lead}{head}.ihub-{token}{dot}{tail}")


def _name_parts(path: Path) -> tuple[str, str, str, str]:
    lead = "." if path.name.startswith(".") else ""
    head, dot, tail = path.name[len(lead):].partition(".")
    return lead, head, dot, tail


def ignore_pattern(path: Path) -> str:
    """A .gitignore pattern for ``path`` that also matches its :func:`temporary_sibling`."""
    lead, head, dot, tail = (re.sub(r"([][*?!\\])", r"\\\1", part) for part in _name_parts(path))
    return f"{lead}{head}*{dot}{tail}"


def check_secret_path(path: Path, setting: str, *, replaced: bool = False) -> None:
    """Everything a file that will hold a secret must pass before anything is generated.
    ``replaced``: it is rewritten through a temporary copy beside it (:func:`write_private`),
    which must be out of Git's reach as well."""
    refuse_link_or_foreign(path, setting)
    refuse_unwritable_location(path, setting)
    refuse_tracked_location(path, setting, replaced=replaced)


def refuse_link_or_foreign(path: Path, setting: str) -> None:
    """A symbolic link (the write would land elsewhere, or replace the link), a file of another
    user (root would write the key into it), a directory others can write to (they could swap
    the file; in a sticky one such as /tmp they can still take its name, or hold its lock, first):
    each is refused."""
    hint = "choose a path of your own in a directory only you can write to (the default is one)"
    if path.is_symlink():
        raise BadInputError(f"refusing to write a secret to {path}: it is a symbolic link", where=setting, hint=hint)
    if path.exists():
        owner = path.lstat().st_uid
        if owner != os.geteuid():
            raise BadInputError(
                f"refusing to write a secret to {path}: it belongs to another user (uid {owner})", where=setting, hint=hint
            )
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    mode = directory.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BadInputError(
            f"refusing to write a secret to {path}: other users can write to {directory}", where=setting, hint=hint
        )


def refuse_tracked_location(path: Path, setting: str, *, replaced: bool = False) -> None:
    """Refuse a secret file inside a Git work tree unless Git ignores it (the path as written:
    a link's target is not what gets written), and, where it is ``replaced`` through a copy
    (:func:`temporary_sibling`), the copy's name too."""
    path = Path(os.path.abspath(path))
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    hint = "choose a path outside the repository (the default is), or add it to .gitignore"
    git = shutil.which("git")
    if git is None:  # nothing to ask: a .git above it is enough to refuse (it fails closed)
        work_tree = next((d for d in [directory, *directory.parents] if (d / ".git").exists()), None)
        if work_tree is not None:
            raise BadInputError(
                f"refusing to write a secret to {path}: it is inside the Git work tree {work_tree}, and without git "
                "installed the tool cannot tell whether Git ignores it",
                where=setting,
                hint=hint,
            )
        return
    inside = subprocess.run(
        [git, "-C", str(directory), "rev-parse", "--show-toplevel"],
        capture_output=True, text=True, check=False, env={**os.environ, "LC_ALL": "C", "LANGUAGE": ""},  # untranslated: read below
    )
    if inside.returncode != 0:
        if "not a git repository" in inside.stderr:
            return
        # another failure (a repository of another user: "dubious ownership"): fail closed
        why = next(iter(inside.stderr.strip().splitlines()), f"exit code {inside.returncode}")
        raise BadInputError(
            f"refusing to write a secret to {path}: Git cannot say whether it is ignored ({why})", where=setting, hint=hint
        )
    copy = temporary_sibling(path, "0-0")  # a name the copy may have (a pid and a random number)
    asked = [str(path)] + ([str(copy)] if replaced else [])
    ignored = subprocess.run(
        [git, "-C", str(directory), "check-ignore", "-z", "--stdin"],
        input="\0".join(asked) + "\0", capture_output=True, text=True, check=False,
    )
    if ignored.returncode not in (0, 1):  # git failed (a path beyond a symbolic link, ...): fail closed
        why = next(iter(ignored.stderr.strip().splitlines()), f"exit code {ignored.returncode}")
        raise BadInputError(
            f"refusing to write a secret to {path}: Git cannot say whether it is ignored ({why})",
            where=setting,
            hint="choose a path outside the repository (the default is one), or one Git can answer for (no symbolic link on the way)",
        )
    answered = set(ignored.stdout.split("\0"))
    if str(path) not in answered:
        tracked = subprocess.run(
            [git, "-C", str(directory), "ls-files", "--error-unmatch", str(path)], capture_output=True, check=False
        )
        if tracked.returncode == 0:  # an ignore rule does not apply to a tracked file
            raise BadInputError(
                f"refusing to write a secret to {path}: Git tracks it, so it would be committed whatever .gitignore says",
                where=setting,
                hint=f"untrack it (git rm --cached {path}), ignore it in .gitignore and commit both, or choose a path "
                "outside the repository (the default is one)",
            )
        raise BadInputError(
            f"refusing to write a secret to {path}: it is inside the Git work tree {inside.stdout.strip()} "
            "and not ignored, so it could be committed",
            where=setting,
            hint=hint,
        )
    if replaced and str(copy) not in answered:
        raise BadInputError(
            f"refusing to write a secret to {path}: Git ignores it, but not the copy the tool writes beside it first "
            f"({temporary_sibling(path, '<pid>-<random>').name}), which a crash could leave behind",
            where=setting,
            hint=f"ignore it by a pattern that also matches that copy ({ignore_pattern(path)} in .gitignore, or its "
            "directory), or choose a path outside the repository (the default is)",
        )


def refuse_unwritable_location(path: Path, setting: str) -> None:
    """The key must never be generated and then fail to be stored: check the place first."""
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise BadInputError(
            f"cannot store the API key at {path}: {directory} is not a writable directory",
            where=setting,
            hint="choose a key sink path in a directory you can write to",
        )


def env_prefix(consumer_name: str) -> str:
    return "IHUB_" + re.sub(r"[^A-Z0-9]+", "_", consumer_name.upper()).strip("_")


def _not_entries(entries: object, where: str) -> str | None:
    """What makes ``entries`` no list of key entries (text values, a text ``api_key``), or None."""
    if not isinstance(entries, list):
        return f"{where} is not a list"
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]" if where != "$" else "$"
        if not isinstance(entry, dict):
            return f"{at} is not an object"
        if not isinstance(entry.get("api_key"), str):  # "" (an earlier version's empty field): no key
            return f"{at} has no api_key text"
        odd = next((k for k, v in entry.items() if v is not None and not isinstance(v, str)), None)
        if odd is not None:
            return f"{at}.{odd} is not text"
    return None


def _same_target(stored: str | None, target: str | None) -> bool:
    """An entry's target is this run's: none stored (the first format, which may be any
    target's), or the same base however it was written when stored (``HTTPS://Hub.example:443`` is
    ``https://hub.example``: bases are kept as the browser writes them since, see
    :func:`flows.settings.canonical_base`)."""
    if stored is None or stored == target:
        return True
    try:
        return target is not None and canonical_base(stored) == canonical_base(target)
    except ValueError:
        return False


class FileSink:
    """One JSON file, one entry per (target, consumer): ``{"format": 2, "keys": [...]}``. A file
    in the first format (a single consumer's document) is read as one entry that names no
    target: found by its consumer's id (a server's own), but by the consumer's name only where
    the file is this target's by its path (``per_target``: the default path names the host), as a
    name is the same on every target and the key would be sent to this one."""

    def __init__(self, path: Path, target: str | None = None, *, per_target: bool = False):
        self.path = path
        self.target = target
        self.per_target = per_target
        self.description = f"file:{path}"

    def entries(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        try:
            text = self.path.read_text(encoding="utf-8")
            if not text.strip():
                return []  # made empty beforehand (touch, chmod 600): nothing in it yet
            data = json.loads(text)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInputError(
                f"the key sink {self.path} cannot be read: {exc.__class__.__name__}",
                where="--key-sink",
                hint="fix or move the file; it should hold the JSON this tool wrote",
            ) from None
        if isinstance(data, dict) and "keys" in data:
            entries = data["keys"]
            problem = _not_entries(entries, "$.keys") or next((f"$ has {k!r}" for k in data if k not in ("format", "keys")), None)
        else:  # the first format: one consumer's document
            entries = [data]
            problem = _not_entries(entries, "$")
        if problem:
            # never rewritten (a store would drop what it cannot read), nor read as "no key"
            raise BadInputError(
                f"the key sink {self.path} does not hold what this tool writes ({problem})",
                where=f"--key-sink file:{self.path}",
                hint="move the file away (it may hold a key someone needs) and run again, or give another file:PATH",
            )
        return entries

    def check_writable(self, consumer_name: str, consumer_id: str | None = None) -> None:
        """The file is read first: one this tool cannot read back (a hand edit, another program's
        file) is refused before any key is generated, not after (see :meth:`entries`)."""
        self.entries()

    def _mine(self, entry: dict[str, str], *, by_id: bool) -> bool:
        if entry.get("target") is None:
            return self.target is None or by_id or self.per_target
        return self.target is None or _same_target(entry.get("target"), self.target)

    def load(self, consumer_id: str) -> StoredKey | None:
        for entry in reversed(self.entries()):
            if self._mine(entry, by_id=True) and entry.get("api_consumer_id") == consumer_id and entry.get("api_key"):
                return StoredKey(consumer_id, entry["api_key"])
        return None

    def find(self, consumer_name: str) -> StoredKey | None:
        for entry in reversed(self.entries()):
            if self._mine(entry, by_id=False) and entry.get("api_consumer_name") == consumer_name and entry.get("api_key"):
                return StoredKey(str(entry.get("api_consumer_id")), entry["api_key"])
        return None

    def keys(self) -> list[str]:
        """Every key the file holds, for any target (for scanning)."""
        return [e["api_key"] for e in self.entries() if isinstance(e.get("api_key"), str)]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[Path]]:
        """Hold the file's lock while it is read and rewritten: two runs storing into one file
        (two targets share it) must not lose each other's key. The lock is named as the
        temporary copy is, so that the rule that ignores the file ignores it too
        (``ops.ihub-lock.key.json``); an earlier version's lock (``.ops.key.json.lock``, which
        ``*.key.json`` misses) is held too where it exists when the lock is taken, so that a run
        of that version waits as before (one that makes it only afterwards, its first run beside
        this file, is not waited for)."""
        made = make_directory(self.path.parent)  # fsynced by write_private, once the key is written
        fds: list[int] = []
        try:
            # never made again, only honoured: read-only (a lock needs no more), never followed
            # nor waited on (a link, a FIFO); one that cannot be opened so is passed over, since
            # this runs after the key was generated
            with contextlib.suppress(OSError):
                fds.append(os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK))
            fds.append(os.open(temporary_sibling(self.path, "lock"), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
            for fd in fds:  # the earlier version's first: every run takes them in one order
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield made
        finally:
            for fd in fds:
                os.close(fd)

    def store(self, consumer_id: str, consumer_name: str, api_key: str) -> None:
        """Add the key beside the others; only this target's entry for this consumer (a key
        revoked by this very regeneration) is replaced."""
        entry = {
            "target": self.target,
            "api_consumer_id": consumer_id,
            "api_consumer_name": consumer_name,
            "stored_at": _now(),
            "api_key": api_key,
        }
        with self._locked() as made:
            kept = [
                e for e in self.entries()
                if not (e.get("api_consumer_id") == consumer_id and _same_target(e.get("target"), self.target))
            ]
            write_private(self.path, json.dumps({"format": 2, "keys": [*kept, entry]}, indent=2) + "\n", made=made)


class EnvFileSink:
    """``PREFIX_API_CONSUMER_ID``, ``PREFIX_API_KEY`` and ``PREFIX_TARGET`` lines appended per
    key (the last ones count, as in any .env). The variable names are the consumer's alone, so
    one envfile serves one target: a key of another target is never read for this one (it would
    be sent there), and storing this target's over it is refused before a key is generated."""

    def __init__(self, path: Path, target: str | None = None):
        self.path = path
        self.target = target
        self.description = f"envfile:{path}"

    def _values(self) -> dict[str, str | None]:
        return dotenv_values(self.path) if self.path.is_file() else {}

    def _other_target(self, values: dict[str, str | None], prefix: str) -> str | None:
        """The target the file's entry for ``prefix`` names, if it is not this one (an entry
        written before targets were recorded names none)."""
        stored = values.get(f"{prefix}_TARGET")
        return stored if stored and self.target is not None and not _same_target(stored, self.target) else None

    def keys(self) -> list[str]:
        """Every key the file holds, for any target, earlier (rotated) lines included, which
        a dotenv reading hides behind the last one (for scanning)."""
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8", errors="replace") as stream:
            return [b.value for b in parse_stream(stream) if b.key and b.key.endswith("_API_KEY") and b.value]

    def load(self, consumer_id: str) -> StoredKey | None:
        values = self._values()
        for name, value in values.items():
            if name.endswith("_API_CONSUMER_ID") and value == consumer_id:
                prefix = name.removesuffix("_API_CONSUMER_ID")
                key = values.get(f"{prefix}_API_KEY")
                if key and self._other_target(values, prefix) is None:
                    return StoredKey(consumer_id, key)
        return None

    def find(self, consumer_name: str) -> StoredKey | None:
        prefix = env_prefix(consumer_name)
        values = self._values()
        consumer_id, key = values.get(f"{prefix}_API_CONSUMER_ID"), values.get(f"{prefix}_API_KEY")
        if self._other_target(values, prefix) is not None:
            return None
        return StoredKey(consumer_id, key) if consumer_id and key else None

    def check_writable(self, consumer_name: str, consumer_id: str | None = None) -> None:
        """Refuse (before any key is generated) to store over another target's key: one its
        target line names, or, given the consumer's id, one of another consumer written before
        targets were recorded (consumer ids are a server's own: another id may be another
        target's, which the new lines would hide)."""
        prefix = env_prefix(consumer_name)
        values = self._values()
        stored_id, has_key = values.get(f"{prefix}_API_CONSUMER_ID"), bool(values.get(f"{prefix}_API_KEY"))
        if consumer_id is not None and has_key and not values.get(f"{prefix}_TARGET") and stored_id != consumer_id:
            raise BadInputError(
                f"the key sink {self.path} holds {prefix}_API_KEY of another consumer ({stored_id}) and names no target "
                "(written by an earlier version): a new key would hide it",
                where=f"--key-sink envfile:{self.path}",
                hint=f"if it is {self.target}'s old key, delete its lines; if it is another target's, add "
                f"{prefix}_TARGET=<that base URL> below them, or give this target an envfile of its own; then run again",
            )
        other = self._other_target(values, prefix)
        if other is not None:
            raise BadInputError(
                f"the key sink {self.path} holds {prefix}_API_KEY for {other}, not {self.target}: "
                "an envfile holds one target's key per consumer",
                where=f"--key-sink envfile:{self.path}",
                hint="give this target an envfile of its own (or use a file: sink, which keeps each target's key)",
            )

    def store(self, consumer_id: str, consumer_name: str, api_key: str) -> None:
        prefix = env_prefix(consumer_name)
        lines = (
            f"# written by ihub-bootstrap at {_now()} for API consumer {consumer_name}\n"
            f"{prefix}_API_CONSUMER_ID={consumer_id}\n"
            f"{prefix}_API_KEY={api_key}\n"
        )
        if self.target is not None:
            lines += f"{prefix}_TARGET={self.target}\n"
        write_private(self.path, lines, append=True)


class KeyringSink:
    def __init__(self, base_url: str):
        try:
            import keyring
        except ImportError:
            raise BadInputError(
                "the keyring key sink needs the keyring package",
                where="--key-sink keyring",
                hint="pip install 'ihub-bootstrap[keyring]', or use --key-sink file:PATH",
            ) from None
        backend = keyring.get_keyring()
        if getattr(backend, "priority", 0) <= 0:  # keyring's "fail"/"null" backends: storing would fail later
            raise BadInputError(
                f"no usable system keyring here ({type(backend).__module__}.{type(backend).__name__})",
                where="--key-sink keyring",
                hint="use --key-sink file:PATH or envfile:PATH on machines without a keyring service",
            )
        self.service = f"ihub-bootstrap {base_url}"
        self.description = f"keyring ({self.service})"

    def load(self, consumer_id: str) -> StoredKey | None:
        import keyring

        value = keyring.get_password(self.service, consumer_id)
        return StoredKey(consumer_id, value) if value else None

    def find(self, consumer_name: str) -> StoredKey | None:
        return None  # a keyring cannot be listed: verify needs --api-consumer-id

    def store(self, consumer_id: str, consumer_name: str, api_key: str) -> None:
        import keyring

        keyring.set_password(self.service, consumer_id, api_key)

    def check_writable(self, consumer_name: str, consumer_id: str | None = None) -> None:
        """Nothing to check: each consumer has an entry of its own, and the backend was checked."""


def default_key_path(base_url: str, consumer_name: str) -> Path:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    parts = urlsplit(base_url)
    target = re.sub(r"[^A-Za-z0-9.-]+", "_", parts.netloc)
    return data_home / "ihub-bootstrap" / "keys" / target / f"{consumer_name}.json"


def open_sink(spec: str | None, *, base_url: str, consumer_name: str, for_writing: bool = True) -> KeySink:
    """The key sink a ``--key-sink`` value (or ``IHUB_KEY_SINK``) names. Where a key will be
    written (``for_writing``), the place is checked first: a key must never be generated and
    then fail to be stored."""
    kind, _, rest = (spec or "").partition(":")
    if not spec:
        path, setting = default_key_path(base_url, consumer_name), "the default key sink (set --key-sink)"
    elif kind == "keyring" and not rest:
        return KeyringSink(base_url)
    elif kind in ("file", "envfile") and rest:
        path, setting = Path(rest).expanduser(), "--key-sink / IHUB_KEY_SINK"
        if path.is_dir():
            raise BadInputError(f"the key sink {path} is a directory", where="--key-sink", hint="give a file path")
    else:
        raise BadInputError(
            "unknown key sink (it is neither file:PATH, envfile:PATH nor keyring)",
            where="--key-sink / IHUB_KEY_SINK",
            hint="use file:PATH, envfile:PATH or keyring",
        )
    sink: FileSink | EnvFileSink = EnvFileSink(path, base_url) if kind == "envfile" else FileSink(path, base_url, per_target=not spec)
    if for_writing:
        check_secret_path(path, setting, replaced=kind != "envfile")  # an envfile is appended to
        sink.check_writable(consumer_name)
    return sink
