"""The secret values a run knows: the login password, session cookie value(s), the generated
API key, bearer tokens. Everything the tool writes or prints is checked against them:
terminal lines are redacted, run-folder artifacts scrubbed and then scanned."""

from __future__ import annotations

import base64
import functools
import html
import json
import threading
from urllib.parse import quote, quote_plus

MARKER = "[REDACTED]"
MIN_LENGTH = 4  # shorter values would match everywhere: settings refuse such a password


def _base64_cores(raw: bytes) -> set[bytes]:
    """The parts of the base64 encoding of ``raw`` that appear whatever precedes it.

    A secret inside a larger base64 blob is encoded at one of three alignments; for each,
    the characters fully determined by the secret alone are a stable substring.
    """
    cores: set[bytes] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = encode(b"\0" * offset + raw)
            start = (offset * 4 + 2) // 3  # characters touched by the padding bytes
            end = ((offset + len(raw)) * 4) // 3  # characters fully inside the data
            core = encoded[start:end]
            if len(core) >= 6:
                cores.add(core)
    return cores


def encoded_forms(value: str) -> frozenset[str]:
    """The ways a value shows up in files: as is, URL-encoded (Python's way, JavaScript's
    encodeURIComponent, a browser's form encoding), HTML-escaped, JSON-escaped, base64.
    Computed once per value (a scan asks for them once per line of a trace)."""
    return _encoded_forms(value)


def encoded_bytes(value: str) -> tuple[bytes, ...]:
    """:func:`encoded_forms` as UTF-8 bytes, to look for in raw files."""
    return _encoded_bytes(value)


@functools.lru_cache(maxsize=64)
def _encoded_bytes(value: str) -> tuple[bytes, ...]:
    return tuple(f.encode("utf-8", "surrogatepass") for f in _encoded_forms(value))


@functools.lru_cache(maxsize=64)
def _encoded_forms(value: str) -> frozenset[str]:
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        quote(value, safe="-_.!~*'()"),  # encodeURIComponent (IHP's XHR submit)
        quote_plus(value, safe="*-._").replace("~", "%7E"),  # application/x-www-form-urlencoded (native submit)
        html.escape(value),  # an attribute value in a page (value="...")
        html.escape(value, quote=False),
        json.dumps(value)[1:-1],  # Python's JSON: ASCII-escaped
        json.dumps(value, ensure_ascii=False)[1:-1],  # Playwright's (JavaScript's) JSON: UTF-8
    }
    forms |= {c.decode("ascii") for c in _base64_cores(value.encode("utf-8", "surrogatepass"))}
    return frozenset(f for f in forms if len(f) >= MIN_LENGTH)


class KnownSecrets:
    """Thread-safe set of secret values, longest first for replacement."""

    def __init__(self, values: list[str] | None = None):
        self._lock = threading.Lock()
        self._values: set[str] = set()
        for v in values or []:
            self.add(v)

    def add(self, value: str | None) -> None:
        if value and len(value) >= MIN_LENGTH:
            with self._lock:
                self._values.add(value)

    @property
    def values(self) -> list[str]:
        with self._lock:
            return sorted(self._values, key=len, reverse=True)

    def forms(self) -> list[str]:
        """Every encoded form of every value, longest first."""
        found: set[str] = set()
        for value in self.values:
            found |= encoded_forms(value)
        return sorted(found, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for form in self.forms():
            if form in text:
                text = text.replace(form, MARKER)
        return text

    def __bool__(self) -> bool:
        return bool(self._values)

    def __repr__(self) -> str:  # never the values
        return f"KnownSecrets({len(self._values)} values)"
