"""A throw-away PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temporary directory,
listening on 127.0.0.1 only, on a free port; stopped and deleted at the end of the session.

``IHUB_TEST_PG_URL`` (a URL of a role that may CREATE DATABASE) uses an existing server instead.
Tests get a fresh database each (``pg_database``), dropped afterwards. Without any PostgreSQL
binaries the tests that need one are skipped, saying so.

Import the fixtures into a test module: ``from tests.pg import pg_database, pg_server, psql``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PG_URL_ENV = "IHUB_TEST_PG_URL"
START_TIMEOUT_S = 30
# A test server needs no durability: fsync and friends off make initdb and every commit fast.
FAST = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"


@dataclass(frozen=True)
class PgServer:
    url: str  # of the maintenance database, as a role that may create databases
    bin_dir: Path | None  # where its client binaries are, when we started it

    def database_url(self, name: str) -> str:
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<v>/bin with initdb and pg_ctl, else the one on PATH."""
    versioned = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    for candidate in versioned:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).parent
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def psql_binary(server: PgServer | None = None) -> str | None:
    if server and server.bin_dir and (server.bin_dir / "psql").is_file():
        return str(server.bin_dir / "psql")
    found = find_bin_dir()
    if found and (found / "psql").is_file():
        return str(found / "psql")
    return shutil.which("psql")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> tuple[list[str], str]:
    """PostgreSQL refuses to run as root: as root, run its binaries as the ``postgres`` user."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root, and there is no 'postgres' OS user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"], "postgres"


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if os.environ.get(PG_URL_ENV):
        yield PgServer(os.environ[PG_URL_ENV], None)
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(f"no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql, or set {PG_URL_ENV}")
    prefix, user = _as_server_user()
    # Not pytest's tmp_path: its parents are private to the test user, the server user must enter.
    root = Path(tempfile.mkdtemp(prefix="ihub-test-pg-"))
    shutil.chown(root, user)
    data, log = root / "data", root / "server.log"
    port = _free_port()
    _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
          "--no-locale", "--no-sync"], "initdb")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} {FAST}"
    _run([*prefix, str(bin_dir / "pg_ctl"), "start", "-w", "-t", str(START_TIMEOUT_S), "-D", str(data),
          "-l", str(log), "-o", options], "pg_ctl start")
    try:
        yield PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", bin_dir)
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"],
                       capture_output=True, timeout=START_TIMEOUT_S, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """The URL of a new, empty database; dropped after the test."""
    name = f"ihub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_server.database_url(name)
    finally:
        with psycopg.connect(pg_server.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def psql(pg_server: PgServer) -> str:
    found = psql_binary(pg_server)
    if found is None:
        pytest.skip("no psql binary: apt-get install postgresql-client")
    return found
