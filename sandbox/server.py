"""Run the sandbox: in the foreground (``python -m sandbox``) or in a background thread of the
calling process (tests, ``rehearse``, the benchmark), always on a loopback socket."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from sandbox.app import create_app
from sandbox.config import TEMPORARY_DB, SandboxConfig
from sandbox.web import Sandbox


def bind(config: SandboxConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only for such
    # sockets; without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((config.host, config.port))
    sock.listen(128)
    return sock


def base_url(config: SandboxConfig, sock: socket.socket) -> str:
    host = config.host if ":" not in config.host else f"[{config.host}]"
    return f"http://{host}:{sock.getsockname()[1]}"


def _server(app: Starlette) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))


@dataclass
class RunningSandbox:
    """A sandbox serving from a thread of this process; ``stop()`` ends it."""

    config: SandboxConfig
    base_url: str
    app: Starlette
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def sandbox(self) -> Sandbox:
        return self.app.state.sandbox

    def stop(self, *, wait: bool = True) -> None:
        """End the server (its thread then closes the database's connections). ``wait=False``
        returns at once: uvicorn takes about 0.2 s to notice and to close its connections, which
        a test's teardown need not sit through (:meth:`join` waits, at the end of a session)."""
        self._server.should_exit = True
        if wait:
            self.join()
            if self.running:  # hung: close the database's connections from here, as before
                self.sandbox.engine.dispose()

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout=timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(config: SandboxConfig, startup_timeout: float = 15.0) -> RunningSandbox:
    app = create_app(config)
    sock = bind(config)
    server = _server(app)

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            app.state.sandbox.engine.dispose()

    thread = threading.Thread(target=serve, name="sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:  # uvicorn offers no start-up callback
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.005)
    return RunningSandbox(config, base_url(config, sock), app, server, thread)


def serve_forever(config: SandboxConfig) -> None:
    with tempfile.TemporaryDirectory(prefix="ihub-sandbox-") as scratch:
        if config.db == TEMPORARY_DB:
            config.db = str(Path(scratch) / "sandbox.sqlite3")
        _serve(config)


def _serve(config: SandboxConfig) -> None:
    app = create_app(config)
    sock = bind(config)
    url = base_url(config, sock)
    print(
        f"Inter-Hub sandbox on {url}  (gate {config.gate}, submit {config.submit}, "
        f"schema {config.schema}, db {config.db})",
        flush=True,
    )
    if config.password_generated:
        print(f"admin login: {config.admin_email} / {config.admin_password}  (generated; shown only now)", flush=True)
    else:
        print(f"admin login: {config.admin_email} / (the password you gave)", flush=True)
    if config.gate == "open":
        shown = config.operator_key if config.operator_generated else "(the key you gave)"
        print(
            f"v2 operator consumer: IHUB_OPERATOR_CLIENT_ID={config.operator_client_id} IHUB_OPERATOR_KEY={shown}"
            + ("  (generated; shown only now)" if config.operator_generated else ""),
            flush=True,
        )
    _server(app).run(sockets=[sock])
