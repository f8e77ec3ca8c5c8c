"""Scrubbing and scanning run-folder artifacts for secrets, by *reading* what they hold.

A secret can reach a file in many spellings: as is, JSON-escaped (ASCII-escaped by Python,
raw UTF-8 by Playwright), URL-encoded (three ways), HTML-escaped, base64-encoded inside a
larger blob. Rather than list every spelling, the scanner decodes what it reads and compares
decoded text with the secret:

- a file is read as UTF-8 text (binary files, e.g. screenshots, only byte for byte);
- JSON (a document or JSON lines) that escapes something (holds a backslash) or holds a %XX
  or an entity is parsed, and each string value that stands escaped in it, or holds a %XX or
  an entity, is read on its own;
- each text is also read HTML-unescaped, URL-decoded (``+`` as space and as itself) and, for
  runs of base64 characters, base64-decoded, and each of those readings is read again the same
  way (JSON in a URL in JSON, a %XX of a %XX), up to three layers of any kind (a decoded
  text of more than 64 KiB only once: layers are what values, URLs and bodies hold);
- zip entries are read the same way, at any depth.

Scrubbing replaces the spellings it knows (:func:`flows.known_secrets.encoded_forms`), then
reads the result the scanner's way: a JSON string value that still decodes to a secret is
replaced whole by the marker, a text that still does is replaced whole, and anything that
cannot be made clean raises :class:`ScrubError` (the caller deletes it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

from flows.known_secrets import MARKER, MIN_LENGTH, encoded_bytes, encoded_forms

SENSITIVE_HEADERS = {"cookie", "set-cookie", "authorization", "proxy-authorization"}
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_MAX_DEPTH = 3  # base64 in JSON in base64 ...: deeper nesting is not what a trace holds
# A URL- or HTML-decoded text is read again only up to this size: layers of encoding are what
# a value, a URL or a body holds (a JSON document's values are read one by one), and a whole
# page read again at each layer would cost 2-3 times as much for nothing.
_DEEP_READ_MAX = 64 * 1024


class ScrubError(Exception):
    """An artifact could not be made clean; the message names it, never a secret."""


# ---------------------------------------------------------------- reading


def _b64decoded(run: str) -> list[bytes]:
    """The run decoded with the standard alphabet and, where it has a - or _, with the URL-safe
    one too: the standard decoder drops them (and succeeds, with other bytes), which is right
    for a standard run that took a neighbouring - or _ in, wrong for a URL-safe one."""
    padded = run + "=" * (-len(run) % 4)
    decoders = (base64.b64decode, base64.urlsafe_b64decode) if "-" in run or "_" in run else (base64.b64decode,)
    out = []
    for decode in decoders:
        try:
            out.append(decode(padded))
        except (binascii.Error, ValueError):
            continue
    return out


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)


def _json_documents(text: str) -> Iterator[Any]:
    """The JSON a text holds: one document, or JSON lines (split on ``\\n`` only: U+2028 and
    U+0085 are ordinary characters inside JSON strings)."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[\"":
        return
    try:
        yield json.loads(text)
        return
    except (json.JSONDecodeError, RecursionError):
        pass
    for line in text.split("\n"):
        line = line.strip()
        if line[:1] in ("{", "["):
            try:
                yield json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue


# Characters a JSON writer escapes in a string (some writers: DEL, U+2028, U+2029 too).
_ESCAPED = re.compile("[\"\\\\\x00-\x1f\x7f\u2028\u2029]")


def _as_is(value: str, unicode_escapes: bool, slash_escapes: bool) -> bool:
    """Whether a JSON string value stands in its document's text character for character
    (nothing in it was escaped). Then every reading of the value is part of the same reading
    of the whole text (URL and HTML decoding and base64 runs are local, and the value's quotes
    end them), which is read already: reading the value again finds nothing new. Not so for a
    value with a %XX or an entity: what decoding it makes is read again as a text of its own
    (JSON, say), which the decoded whole text, its quotes gone, no longer is."""
    if "%" in value or "&" in value or _ESCAPED.search(value):
        return False
    if unicode_escapes and not value.isascii():
        return False
    return not (slash_escapes and "/" in value)


def readings(text: str, depth: int = 0, floor: int = MIN_LENGTH, _read: dict[str, int] | None = None) -> Iterator[str]:
    """``text`` and every decoded reading of it (see the module's docstring) that is at least
    ``floor`` characters long, the text itself aside. No reading is longer than what it was
    read from (an escape, a %XX, an entity, base64 and UTF-8 all take at least the room of what
    they stand for), so a text shorter than the shortest secret looked for is not decoded.
    A reading met again (HTML then URL decoding is often URL then HTML) is not read again,
    unless now fewer layers deep."""
    yield text
    floor = max(floor, MIN_LENGTH)
    if len(text) < floor:
        return
    read: dict[str, int] = {} if _read is None else _read
    if read.get(text, _MAX_DEPTH + 1) <= depth:
        return
    read[text] = depth
    # URL and HTML decoding, read again as a text of its own (a %XX of a %XX, an entity in a
    # URL, JSON or base64 a URL carries with its + and / as %2B and %2F), up to _MAX_DEPTH
    # layers of any kind. A + that only stands for a space is the one decoding that builds no
    # new structure (it splits base64 runs, makes no escape): read, not read again.
    decoded = {html.unescape(text)} if "&" in text else set()
    if "%" in text:
        decoded |= {unquote_plus(text), unquote(text)}
    elif "+" in text:
        yield text.replace("+", " ")
    decoded.discard(text)
    for reading in decoded:
        if depth < _MAX_DEPTH and len(text) <= _DEEP_READ_MAX:
            yield from readings(reading, depth + 1, floor, read)
        else:  # the last layer: decoded, with an entity a %XX spelt out, not read further
            yield reading
            if "&" in reading:
                yield html.unescape(reading)
    if depth >= _MAX_DEPTH:
        return
    # A JSON text without a backslash escapes nothing: each of its string values stands in it
    # verbatim, between quotes that end every local decoding (_as_is is more cautious: it also
    # counts a raw DEL or U+2028 as escaped), so parsing it would find no reading the text's
    # own have not; unless a value holds a %XX or an entity (see _as_is).
    json_escapes = "\\" in text or "%" in text or "&" in text
    unicode_escapes, slash_escapes = "\\u" in text, "\\/" in text
    for document in _json_documents(text) if json_escapes else ():
        for value in _json_strings(document):
            if len(value) >= floor and not _as_is(value, unicode_escapes, slash_escapes):
                yield from readings(value, depth + 1, floor, read)
    for match in _BASE64_RUN.finditer(text):
        run = match.group()
        if 3 * -(-len(run) // 4) < floor:  # decodes to fewer bytes (so characters) than that
            continue
        for raw in _b64decoded(run):
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            yield from readings(decoded, depth + 1, floor, read)


def _as_text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def secrets_in(data: bytes, secrets: Iterable[str]) -> set[str]:
    """The secrets that ``data`` holds in any spelling (plain or decoded)."""
    secrets = [s for s in secrets if s]
    found = {s for s in secrets if any(form in data for form in encoded_bytes(s))}
    rest = [s for s in secrets if s not in found]
    text = _as_text(data) if rest else None
    if text is None:
        return found
    for reading in readings(text, floor=min(len(s) for s in rest)):
        for secret in rest:
            if secret not in found and secret in reading:
                found.add(secret)
        if len(found) == len(secrets):
            break
    return found


# ---------------------------------------------------------------- sensitive headers


def _unscrubbed_headers(value: Any) -> Iterator[str]:
    """Sensitive headers and cookies whose value is not the marker: secrets nobody told us of."""
    if isinstance(value, list):
        for item in value:
            yield from _unscrubbed_headers(item)
    elif isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str) and name.lower() in SENSITIVE_HEADERS and value.get("value") not in (MARKER, "", None):
            yield f"unscrubbed {name} header"
        cookies = value.get("cookies")
        if isinstance(cookies, list) and any(isinstance(c, dict) and c.get("value") not in (MARKER, "", None) for c in cookies):
            yield "unscrubbed cookie value"
        for key, item in value.items():
            if key != "cookies":
                yield from _unscrubbed_headers(item)


def header_leaks(data: bytes) -> set[str]:
    text = _as_text(data)
    if text is None:
        return set()
    if not _may_name_a_header(text):
        return set()
    found: set[str] = set()
    for document in _json_documents(text):
        found.update(_unscrubbed_headers(document))
    return found


# ---------------------------------------------------------------- scrubbing


def _scrub_value(value: Any, secrets: list[str], forms: list[str]) -> Any:
    if isinstance(value, str):
        for form in forms:
            if form in value:
                value = value.replace(form, MARKER)
        if secrets and len(value) >= MIN_LENGTH and any(secrets_in(value.encode("utf-8", "surrogatepass"), secrets)):
            return MARKER  # some encoding the forms do not know: the whole value goes
        return value
    if isinstance(value, list):
        return [_scrub_value(v, secrets, forms) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "cookies" and isinstance(item, list):
                out[key] = [{**c, "value": MARKER} if isinstance(c, dict) and "value" in c else c for c in item]
                continue
            out[_scrub_value(key, secrets, forms)] = _scrub_value(item, secrets, forms)
        name = out.get("name")
        if isinstance(name, str) and name.lower() in SENSITIVE_HEADERS and "value" in out:
            out["value"] = MARKER
        return out
    return value


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _names_a_header(text: str) -> bool:
    """Whether a text spells a Cookie/Set-Cookie/Authorization header's or a cookie's name as is."""
    lowered = text.lower()
    return "cookie" in lowered or "authorization" in lowered


def _may_name_a_header(text: str) -> bool:
    """Whether a JSON text may hold a Cookie/Set-Cookie/Authorization header or a cookie: its
    name as is, or spelt with ``\\u`` escapes (which only parsing reads)."""
    return _names_a_header(text) or "\\u" in text


def refuse_secret_name(container: str, entry: str, secrets: list[str]) -> None:
    """A zip entry's name is written as is (no scrub renames it): one that holds a secret
    cannot be made clean."""
    if secrets and secrets_in(entry.encode("utf-8", "surrogatepass"), secrets):
        raise ScrubError(f"{container} has an entry whose name holds a secret")


def _one_document_per_line(line: str) -> bool:
    """A line that starts with ``{`` and ends with ``}`` is no part of a JSON document spread
    over several lines: such a document's first line is an incomplete prefix, and a line after
    it starts with ``,``, ``}``, ``]``, ``:`` or a value (a JSON string holds no raw line break)."""
    stripped = line.strip()
    return stripped[:1] == "{" and stripped[-1:] == "}"


def _scrub_lines(data: bytes, secrets: list[str]) -> tuple[bytes, bool]:
    """:func:`scrub_json_lines`' work; also whether every line was a JSON object of its own
    (then the lines' readings are all of the whole text's readings, see :func:`scrub_blob`)."""
    forms = _forms(secrets)
    out = []
    separate = True
    for raw in data.decode("utf-8").split("\n"):
        if not raw.strip():
            continue
        separate = separate and _one_document_per_line(raw)
        holds = bool(secrets) and bool(secrets_in(raw.encode(), secrets))
        if not holds and not _may_name_a_header(raw):
            out.append(raw)  # nothing in it to scrub (most of a trace): kept byte for byte
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            if holds or _names_a_header(raw):
                raise ScrubError("a line is not JSON") from None
            # part of a document over several lines, holding escapes: the whole text is read
            # (a header name spelt with escapes included) once the lines are done
            separate = False
            out.append(raw)
            continue
        # Sensitive headers and cookies first: often the only place a secret is (the session
        # cookie of every request). The line as it will be written is read; only one that
        # still holds a secret is scrubbed value by value (and read again).
        line = _dump(_scrub_value(value, [], []))
        if secrets and secrets_in(line.encode(), secrets):
            line = _dump(_scrub_value(value, secrets, forms))
            if secrets_in(line.encode(), secrets):
                raise ScrubError("a line still holds a secret after scrubbing")
        if header_leaks(line.encode()):
            raise ScrubError("a line still holds an unscrubbed header after scrubbing")
        out.append(line)
    return "".join(line + "\n" for line in out).encode("utf-8"), separate


def scrub_json_lines(data: bytes, secrets: list[str]) -> bytes:
    """JSON lines (a trace's ``.trace``/``.network``, ``audit.jsonl``) with every string value
    scrubbed and every sensitive header's value replaced. Lines are split on ``\\n`` alone.

    Each line is read as it will be written: a line that holds no secret and names no header
    is kept byte for byte; one that does is rewritten (headers and cookies replaced, then,
    if a secret is still there, every value scrubbed) and the rewritten line is read. Raises
    :class:`ScrubError` when a line cannot be made clean."""
    return _scrub_lines(data, secrets)[0]


def _forms(secrets: list[str]) -> list[str]:
    found: set[str] = set()
    for secret in secrets:
        found |= encoded_forms(secret)
    return sorted(found, key=len, reverse=True)


def _scrub_zip(name: str, data: bytes, secrets: list[str]) -> bytes | None:
    """A zip with every entry scrubbed (rebuilt), or None when ``data`` is no zip."""
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            refuse_secret_name(name, info.filename, secrets)
            target.writestr(info.filename, scrub_blob(f"{name}!{info.filename}", source.read(info), secrets))
    return out.getvalue()


def scrub_blob(name: str, data: bytes, secrets: list[str]) -> bytes:
    """One artifact, scrubbed; raises :class:`ScrubError` when it cannot be made clean."""
    if not secrets and not name.endswith(JSON_LINES):
        return data
    if data[:2] == b"PK" and (rebuilt := _scrub_zip(name, data, secrets)) is not None:
        return rebuilt
    if name.endswith(JSON_LINES) or name.endswith(".jsonl"):
        try:
            data, separate = _scrub_lines(data, secrets)
        except UnicodeDecodeError:
            raise ScrubError(f"{name} is not UTF-8 text") from None
        except ScrubError as exc:
            raise ScrubError(f"{name}: {exc}") from None
        # Every line was read as written. The whole text reads as its lines do (the readings
        # are local: no base64 run, escape or JSON string spans a line break) when each line
        # is a JSON object of its own and no secret holds a line break: then it is not read
        # again. Otherwise (a document over several lines, a secret spanning lines) it is.
        if separate and not any("\n" in s for s in secrets):
            return data
    else:
        marker = MARKER.encode()
        for form in _forms(secrets):
            data = data.replace(form.encode(), marker)
        if secrets_in(data, secrets):
            text = _as_text(data)
            if text is not None and text.lstrip()[:1] in ("{", "["):
                documents = list(_json_documents(text))
                if len(documents) == 1:
                    data = (_dump(_scrub_value(documents[0], secrets, _forms(secrets))) + "\n").encode()
            if secrets_in(data, secrets):
                data = marker  # a body only a decoder can read a secret in: the body goes
    if secrets_in(data, secrets) or header_leaks(data):
        raise ScrubError(f"{name} still holds a secret after scrubbing")
    return data


JSON_LINES = (".trace", ".network", ".stacks")


# ---------------------------------------------------------------- scanning


@dataclass(frozen=True)
class Leak:
    file: str  # relative to the run folder; "trace.zip!0-trace.network" for a zip entry
    what: str  # "known secret #2" (never the value) or "unscrubbed Cookie header"

    def __str__(self) -> str:
        return f"{self.file} ({self.what})"


def entries(name: str, data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """``(name, data)`` and, when it is a zip, each entry as ``name!entry`` (zips in zips too,
    3 deep): what the scan reads, as it names it."""
    yield name, data
    if depth >= 3 or not data.startswith(b"PK"):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for entry in z.namelist():
                yield from entries(f"{name}!{entry}", z.read(entry), depth + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        return


def scan_blobs(blobs: Iterable[tuple[str, bytes]], values: list[str]) -> list[Leak]:
    numbered = {value: i + 1 for i, value in enumerate(values)}
    leaks = []
    for name, data in blobs:
        for rel, blob in entries(name, data):
            for secret in sorted(secrets_in(blob, values), key=numbered.__getitem__):
                leaks.append(Leak(rel, f"known secret #{numbered[secret]}"))
            leaks.extend(Leak(rel, what) for what in sorted(header_leaks(blob)))
    return leaks


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def scan_folder(folder: Path, values: list[str], verified: Mapping[str, str] | None = None) -> list[Leak]:
    """Every file (and zip entry, at any depth) holding a known secret in any spelling, or a
    Cookie/Set-Cookie/Authorization value in JSON that was not scrubbed.

    ``verified``: files (path relative to ``folder`` -> :func:`digest`) that :func:`scrub_blob`
    has just written and read clean with these same secrets (its output is read before it is
    returned). Such a file is not read a second time while it still has exactly those bytes."""

    def files() -> Iterator[tuple[str, bytes]]:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                name, data = str(path.relative_to(folder)), path.read_bytes()
                if verified and verified.get(name) == digest(data):
                    continue
                yield name, data

    return scan_blobs(files(), values)
