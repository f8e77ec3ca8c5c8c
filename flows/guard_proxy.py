"""The browser's proxy behind a corporate proxy: a loopback server that sends the base's
traffic on to the corporate proxy and refuses every other request.

Chromium asks its proxy for every request, each hop of a redirect included, so a request that
Inter-Hub redirects elsewhere is refused like any other and never leaves: after a 307 or 308,
not even a form's fields (a login's password among them). (A Playwright route, the other way to
filter requests, is not asked about a redirect's next hop, and turns Chromium's HTTP cache off.)

Only what the base needs is relayed: a tunnel (``CONNECT``) to the base's host and port (HTTPS,
and a WebSocket), and a plain request whose absolute URL is of the base's origin (a plain
``http://`` base, which needs ``--allow-insecure-http`` here: a loopback one goes direct). What goes upstream is written
from the parsed address, not copied: the tunnel always names the base, a plain request is sent as
the base's origin and the path, so an address the corporate proxy would read otherwise than this
check did cannot lead anywhere else. Of a plain request, only its head and its body (by its one
Content-Length) go upstream, with ``Connection: close``, and its answer goes back marked as the
connection's last: a next request on the same connection could be for another host, and is
never relayed. The corporate proxy's credentials (Basic) are added here: Chromium never sees
them. Where the corporate proxy could not be reached, refused a tunnel, or asked for
authentication (407), that is kept in :attr:`GuardProxy.trouble`, for the error's hint (its
other answers to a plain request are relayed as they are).

The proxy listens on 127.0.0.1, where any process of this machine can connect while a run
lasts; on Linux, a connection from another user's process is closed unanswered (the socket's
owner, from /proc/net/tcp and /proc/net/tcp6; one listed in neither is closed too), so another
user cannot reach the base with the operator's corporate-proxy credentials. (Where there are no
such tables, that check is not made; the proxy still relays nothing but requests to the base.)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import socket
import sys
import threading
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from pages.origins import origin, scheme_host_port

_HEAD_LIMIT = 64 * 1024  # a request's or a reply's head, at most
_CLIENT_TIMEOUT_S = 30.0  # for Chromium's request head and body (it sends them at once)
_UPSTREAM_TIMEOUT_S = 60.0  # for the corporate proxy to take a connection and to open a tunnel
_REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
_CLOSE = b"Connection: close\r\n\r\n"
# not passed on: hop-by-hop headers (and those a Connection header names), and of a request,
# Host and Content-Length (written here from what was checked)
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer", "upgrade"}
_DIGITS = re.compile(r"[0-9]{1,15}")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header's name
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in a header line: a line break of its own, NUL, ...
_BODY_LIMIT = 16 * 1024 * 1024  # a form's body, at most (read whole before anything goes upstream)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Upstream:
    """The corporate proxy: an ``http://`` proxy's host and port, and its credentials if any
    (secret: kept in memory, sent only to it)."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    variable: str = field(default="", compare=False)  # the variable it was read from, as set

    def authorization(self) -> bytes:
        if not self.username:
            return b""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Proxy-Authorization: Basic {token}\r\n".encode("ascii")

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def upstream_line(base: str, request_line: str) -> str | None:
    """The request line to send the corporate proxy for one Chromium sent this proxy, or None
    where it is not for the base's origin (refused)."""
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not request_line.isascii() or not request_line.isprintable():
        return None
    try:
        return _checked_line(base, *parts)
    except ValueError:  # no address at all (an unclosed [, a port out of range)
        return None


def _checked_line(base: str, method: str, target: str, version: str) -> str | None:
    scheme, host, port = scheme_host_port(base)
    if method == "CONNECT":
        if "/" in target or "@" in target or scheme_host_port(f"{scheme}://{target}")[1:] != (host, port):
            return None
        return f"CONNECT {host}:{port} {version}"
    if not method.isalpha() or scheme != "http" or scheme_host_port(target) != (scheme, host, port):
        return None
    parts_of = urlsplit(target)
    if parts_of.username is not None or parts_of.password is not None:
        return None
    path = (parts_of.path or "/") + (f"?{parts_of.query}" if parts_of.query else "")
    return f"{method} {origin(base)}{path} {version}"


def _header_lines(head: str) -> list[tuple[str, str, str]]:
    """A head's header lines (after its first line) as (line, lower-case name, value).
    ValueError for a line no proxy should read otherwise than this one: a name that is no
    token, a control character (a lone CR or LF would start a line of its own there), a line
    folded onto the one before."""
    lines = []
    for line in (h for h in head.split("\r\n") if h):
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name) or _CONTROL.search(line):
            raise ValueError("a header line that is not plain")
        lines.append((line, name.lower(), value.strip()))
    return lines


def request_fields(head: str) -> tuple[str, int | None]:
    """A plain request's header lines to pass on (each ending in CRLF, without the hop-by-hop
    ones and Host and Content-Length), and its body's length (None: no Content-Length).
    ValueError where its body has no one plain length (chunked, two Content-Length headers, a
    malformed one, more than :data:`_BODY_LIMIT`) or a header is folded onto the next line:
    such a request is not relayed (Chromium sends none of them for the admin UI's forms)."""
    lines = _header_lines(head)
    if any(name == "transfer-encoding" for _, name, _ in lines):
        raise ValueError("a request body without a length")
    lengths = [value for _, name, value in lines if name == "content-length"]
    if len(lengths) > 1 or (lengths and not _DIGITS.fullmatch(lengths[0])) or (lengths and int(lengths[0]) > _BODY_LIMIT):
        raise ValueError("not one plain Content-Length")
    return _kept(lines, {"host", "content-length"}), int(lengths[0]) if lengths else None


def _kept(lines: list[tuple[str, str, str]], dropped: set[str]) -> str:
    """The lines to pass on, each ending in CRLF: not the hop-by-hop ones, nor those a
    Connection header names, nor the ``dropped``."""
    named = {token.strip().lower() for _, name, value in lines if name == "connection" for token in value.split(",")}
    return "".join(f"{line}\r\n" for line, name, _ in lines if name not in _HOP_BY_HOP | named | dropped)


SOCKET_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")  # Linux's, IPv4 and IPv6


def _kernel_hex(address: tuple[str, int], width: int) -> str:
    """An IPv4 address and port as the kernel prints them in a socket table of ``width`` bytes
    per address: an IPv6 table holds an IPv4 client as ::ffff:a.b.c.d; each 32-bit word in the
    machine's byte order."""
    packed = socket.inet_aton(address[0])
    if width == 16:
        packed = bytes(10) + b"\xff\xff" + packed
    words = (int.from_bytes(packed[i : i + 4], sys.byteorder) for i in range(0, width, 4))
    return "".join(f"{w:08X}" for w in words) + f":{address[1]:04X}"


def peer_uid(peer: tuple[str, int] | None, local: tuple[str, int] | None, tables: tuple[str, ...] = SOCKET_TABLES) -> int | None:
    """The user owning the other end of a TCP connection to this 127.0.0.1 server (``peer``, as
    this side sees it, to ``local``): from Linux's socket tables, IPv4's and IPv6's (a client's
    IPv6 socket to ::ffff:127.0.0.1 is listed there only). None where no table can be read (not
    Linux): nothing to tell by. LookupError where the tables do not list it (gone already, or
    no address): not a connection to serve."""
    if peer is None or local is None:
        raise LookupError("a connection without its addresses")
    read = False
    for table in tables:
        width = 16 if table.endswith("6") else 4
        theirs, ours = _kernel_hex(peer, width), _kernel_hex(local, width)
        try:
            with open(table, encoding="ascii") as sockets:
                read = True
                for line in sockets:  # the first is the heading: it matches nothing
                    fields = line.split()
                    if len(fields) > 7 and fields[1] == theirs and fields[2] == ours:
                        return int(fields[7])
        except OSError:
            continue
    if not read:
        return None
    raise LookupError("the connection is in no socket table")


def _status(reply: str) -> str:
    """An answer head's status code ("" where its first line has none)."""
    parts = reply.partition("\r\n")[0].split(" ", 2)
    return parts[1] if len(parts) > 1 else ""


def _answer_head(reply: str) -> str:
    """The corporate proxy's answer head as passed to Chromium: the same, without hop-by-hop
    headers, marked as the connection's last."""
    status_line, _, head = reply.partition("\r\n")
    return f"{status_line}\r\n{_kept(_header_lines(head), set())}"


class GuardProxy:
    """``start()`` gives the proxy's address (``http://127.0.0.1:PORT``); ``close()`` ends it.
    What it refuses, Chromium reports as a failed request, which the origin guard names.
    ``trouble``: the last time the corporate proxy could not be reached or would not relay a
    request to the base (for the error's hint)."""

    def __init__(self, base: str, upstream: Upstream):
        self.base = base
        self.upstream = upstream
        _, host, port = scheme_host_port(base)
        self._authority = f"{host}:{port}"
        self._host_header = f"Host: {origin(base).split('://', 1)[1]}\r\n".encode("ascii")
        self.trouble: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """The proxy's address, listening; OSError where it cannot listen."""
        if self._server is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            failed: list[BaseException] = []

            def run() -> None:
                asyncio.set_event_loop(loop)
                try:
                    try:
                        self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_HEAD_LIMIT))
                    except BaseException as exc:  # noqa: BLE001 - handed to start()'s caller
                        failed.append(exc)
                        return
                    finally:
                        ready.set()
                    loop.run_forever()
                    # stopped (close()): every connection's task ends, one accepted at the last moment too
                    while tasks := asyncio.all_tasks(loop):
                        for task in tasks:
                            task.cancel()
                        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

            self._loop, self._thread = loop, threading.Thread(target=run, name="ihub-guard-proxy", daemon=True)
            self._thread.start()
            ready.wait()
            if failed:
                self._thread.join()
                self._loop = self._thread = None
                raise failed[0]
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        """Stops listening and ends every connection (a second call does nothing)."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        server, self._server = self._server, None

        def stop() -> None:
            if server is not None:
                server.close()
            loop.stop()  # the thread then ends every connection and closes the loop

        with contextlib.suppress(RuntimeError):  # the loop closed already
            loop.call_soon_threadsafe(stop)
        thread.join(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: list[asyncio.StreamWriter] = []  # the connection to the corporate proxy, once open
        try:
            try:  # the tables may be long: read beside the loop, which relays everything else
                uid = await asyncio.to_thread(peer_uid, writer.get_extra_info("peername"), writer.get_extra_info("sockname"))
            except LookupError:
                return
            if uid is not None and uid != os.getuid():
                return  # another user's process
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _CLIENT_TIMEOUT_S)
            request_line, _, headers = head.decode("latin-1").partition("\r\n")
            line = upstream_line(self.base, request_line)
            if line is None:
                if request_line.startswith("CONNECT "):
                    writer.write(_REFUSED)  # Chromium: ERR_TUNNEL_CONNECTION_FAILED
                return  # a plain request: the connection closes unanswered (ERR_EMPTY_RESPONSE)
            if line.startswith("CONNECT "):
                await self._tunnel(line, headers, reader, writer, upstream)
            else:
                await self._plain(line, headers, reader, writer, upstream)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, UnicodeError, ValueError):
            pass
        finally:
            for w in (writer, *upstream):
                with contextlib.suppress(Exception):
                    w.close()

    async def _connect(self, upstream: list[asyncio.StreamWriter]) -> asyncio.StreamReader:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream.host, self.upstream.port, limit=_HEAD_LIMIT), _UPSTREAM_TIMEOUT_S
            )
        except (OSError, asyncio.TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "no answer"
            self.trouble = f"cannot connect to the corporate proxy {self.upstream.address} ({reason})"
            raise
        upstream.append(writer)
        return reader

    async def _tunnel(self, line: str, headers: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      upstream: list[asyncio.StreamWriter]) -> None:
        """A tunnel to the base (HTTPS, a WebSocket): the corporate proxy's, once it agrees."""
        try:
            upstream_reader = await self._connect(upstream)
        except (OSError, asyncio.TimeoutError):
            writer.write(_BAD_GATEWAY)
            return
        user_agent = next((h for h, name, _ in _header_lines(headers) if name == "user-agent"), None)
        upstream[0].write(
            f"{line}\r\nHost: {self._authority}\r\n".encode("ascii")
            + (f"{user_agent}\r\n".encode("latin-1") if user_agent else b"")
            + self.upstream.authorization()
            + b"\r\n"
        )
        reply = (await asyncio.wait_for(upstream_reader.readuntil(b"\r\n\r\n"), _UPSTREAM_TIMEOUT_S)).decode("latin-1")
        if _status(reply) != "200":
            self._refused_by_upstream(reply)
            writer.write(_BAD_GATEWAY)
            return
        writer.write(_ESTABLISHED)
        await asyncio.gather(_relay(reader, upstream[0]), _relay(upstream_reader, writer))

    async def _plain(self, line: str, headers: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     upstream: list[asyncio.StreamWriter]) -> None:
        """One plain request of the base's: its head and body, whole, then its answer, for as
        long as Chromium waits for it (Inter-Hub may take its time: the tool's timeout rules)."""
        kept, length = request_fields(headers)
        body = await asyncio.wait_for(reader.readexactly(length or 0), _CLIENT_TIMEOUT_S)

        async def exchange() -> None:
            upstream_reader = await self._connect(upstream)
            stated = b"" if length is None else f"Content-Length: {length}\r\n".encode("ascii")
            upstream[0].write(
                f"{line}\r\n".encode("ascii") + self._host_header + kept.encode("latin-1") + stated
                + self.upstream.authorization() + _CLOSE + body
            )
            reply = (await upstream_reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            if _status(reply) == "407":
                self._refused_by_upstream(reply)
                return  # not Inter-Hub's answer: the request fails (ERR_EMPTY_RESPONSE)
            writer.write(_answer_head(reply).encode("latin-1") + _CLOSE)
            await _relay(upstream_reader, writer)

        await _until_gone(reader, exchange())

    def _refused_by_upstream(self, reply: str) -> None:
        status = reply.partition("\r\n")[0].split(" ", 1)[-1]
        said = "".join(c for c in status[:80] if c.isascii() and c.isprintable())  # its words, not its control codes
        why = " (it wants credentials, or another kind of authentication than Basic)" if said.startswith("407") else ""
        self.trouble = f"the corporate proxy {self.upstream.address} answered {said} for {self._authority}{why}"


async def _until_gone(reader: asyncio.StreamReader, work: Awaitable[_T]) -> _T:
    """``work``'s result; EOFError where Chromium closes the connection first (it gave up):
    nothing waits on for an answer nobody reads. What Chromium sends meanwhile is dropped (a
    plain request's connection carries nothing more)."""
    job = asyncio.ensure_future(work)

    async def gone() -> None:
        with contextlib.suppress(OSError):  # reset: gone all the same
            while await reader.read(65536):
                pass  # nothing more is relayed from this connection

    watch = asyncio.ensure_future(gone())
    try:
        await asyncio.wait({job, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also where this task is cancelled (the proxy closes): neither is left running
        for task in (job, watch):
            task.cancel()
        await asyncio.gather(job, watch, return_exceptions=True)
    if job.cancelled():
        raise EOFError("the browser closed the connection")
    return job.result()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies until the reader ends, then ends the writer's side."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()
