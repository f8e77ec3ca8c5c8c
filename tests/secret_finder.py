"""An independent secret finder for the tests: it does not trust the tool's scanner.

It looks for a secret in every file of a folder (zip entries at any depth) in the spellings a
run may write (plain, URL-encoded three ways, HTML-escaped, JSON-escaped the Python and the
JavaScript way) and, reading JSON lines and decoding, in every JSON string value, URL-decoded
and HTML-unescaped."""

from __future__ import annotations

import html
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus


def spellings(secret: str) -> set[bytes]:
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        quote(secret, safe="-_.!~*'()"),
        quote_plus(secret, safe="*-._").replace("~", "%7E"),
        html.escape(secret),
        html.escape(secret, quote=False),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {f.encode("utf-8", "surrogatepass") for f in forms}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)


def _decoded(text: str) -> Iterator[str]:
    yield text
    yield html.unescape(text)
    yield unquote_plus(text)
    yield unquote(text)


def holds(data: bytes, secret: str) -> bool:
    if any(form in data for form in spellings(secret)):
        return True
    text = data.decode("utf-8", "ignore")
    if any(secret in t for t in _decoded(text)):
        return True
    for line in text.split("\n"):
        line = line.strip()
        if line[:1] not in ("{", "["):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if any(secret in t for s in _strings(value) for t in _decoded(s)):
            return True
    return False


def blobs(folder: Path) -> Iterator[tuple[str, bytes]]:
    def entries(name: str, data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
        yield name, data
        if depth < 3 and data[:2] == b"PK":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    for entry in z.namelist():
                        yield from entries(f"{name}!{entry}", z.read(entry), depth + 1)
            except (zipfile.BadZipFile, ValueError, OSError):
                return

    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield from entries(str(path.relative_to(folder)), path.read_bytes())


def where(folder: Path, secrets: list[str], texts: dict[str, str] | None = None) -> list[str]:
    """``secret #i in FILE`` for every file (and text) that holds one of ``secrets``."""
    found = []
    items = list(blobs(folder)) if folder.exists() else []
    items += [(name, text.encode("utf-8", "surrogatepass")) for name, text in (texts or {}).items()]
    for name, data in items:
        for i, secret in enumerate(secrets):
            if holds(data, secret):
                found.append(f"secret #{i} in {name}")
    return found
