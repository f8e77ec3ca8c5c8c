"""Property-based: secrets drawn from all of Unicode.

- planted in every kind of artifact a run folder holds, in the spelling each writer uses
  (Playwright's UTF-8 JSON, Python's ASCII JSON, form bodies, HTML, base64, nested zips), the
  tool's scanner finds every one, and scrubbing leaves none (checked by the tests' own finder);
- through a real apply (and a failed login, unscrubbed) they are found 0 times in every
  artifact and in the terminal output.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser

from flows.apply import ApplyOptions, execute
from flows.audit import UNSAFE_NO_SCRUB_ENV
from flows.console import Console
from flows.errors import ExitCode
from flows.known_secrets import MARKER
from flows.scrub import ScrubError, digest, entries, header_leaks, scan_blobs, scan_folder, scrub_blob, secrets_in
from flows.seeds import PROJECT_SEEDS, load_seeds
from flows.settings import ExplicitSettings
from sandbox.config import SandboxConfig
from sandbox.server import start_in_thread
from tests.support import ADMIN_EMAIL
from tests.secret_finder import where

SEED_TEXT = "".join(p.read_text(encoding="utf-8") for p in PROJECT_SEEDS.glob("*.json")).casefold()

# Any Unicode scalar value (no lone surrogates: they cannot be written as UTF-8 at all).
ANY = st.characters(codec="utf-8")
HOSTILE_EXAMPLES = ['q"\\é', "a\u2028b\u0085c", "%2B+ &amp;", "\U0001f600\x01\t~*'()"]


def plausible(secret: str) -> bool:
    """A secret a run could hold: long enough to scrub, not inside the marker or seeds."""
    return len(secret) >= 4 and not secret.isspace() and secret not in MARKER and secret.casefold() not in SEED_TEXT


def planted(secret: str) -> dict[str, bytes]:
    """The artifacts of a run folder, each holding the secret as its writer would write it."""
    pw_json = json.dumps(secret, ensure_ascii=False)
    network = (
        '{"type":"resource-snapshot","snapshot":{"request":{"method":"POST","headers":[],'
        '"postData":{"mimeType":"application/json","text":' + pw_json + "}}}}\n"
    )
    trace = '{"type":"frame-snapshot","snapshot":{"html":["INPUT",{"__playwright_value_":' + pw_json + "}]}}\n"
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("resources/form.txt", "email=a%40b.c&password=" + quote_plus(secret))
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("0-trace.network", network)
        z.writestr("0-trace.trace", trace)
        z.writestr("resources/page.html", f'<input value="{html.escape(secret)}">')
        z.writestr("resources/xhr.txt", "password=" + quote(secret, safe="-_.!~*'()"))
        z.writestr("resources/body.json", json.dumps({"b64": base64.b64encode(("k=" + secret).encode()).decode()}))
        z.writestr("nested.zip", inner.getvalue())
    return {
        "trace.zip": outer.getvalue(),
        "audit.jsonl": (json.dumps({"event": "step", "detail": secret}) + "\n").encode(),
        "failure.txt": f"error: {secret}\n".encode(),
    }


def entries_with(files: dict[str, bytes]) -> set[str]:
    return {"trace.zip!0-trace.network", "trace.zip!0-trace.trace", "trace.zip!resources/page.html",
            "trace.zip!resources/xhr.txt", "trace.zip!resources/body.json",
            "trace.zip!nested.zip!resources/form.txt", "audit.jsonl", "failure.txt"}


@settings(max_examples=150, deadline=None)
@given(secret=st.text(ANY, min_size=4, max_size=24))
@example(secret=HOSTILE_EXAMPLES[0])
@example(secret=HOSTILE_EXAMPLES[1])
@example(secret=HOSTILE_EXAMPLES[2])
@example(secret=HOSTILE_EXAMPLES[3])
@example(secret="race")  # part of the entry name "0-trace.network" (CI drew it)
@example(secret="\x00\x00\x00\x00")  # part of every zip header
def test_the_scanner_finds_every_planted_secret_and_scrubbing_removes_it(secret: str) -> None:
    assume(plausible(secret))
    files = planted(secret)
    if any(secrets_in(name.encode(), [secret]) for name in entry_names(files["trace.zip"])):
        # No scrub renames an entry: the trace is refused, never written back with the secret.
        with pytest.raises(ScrubError, match="an entry whose name holds a secret"):
            scrub_blob("trace.zip", files["trace.zip"], [secret])
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        found = {leak.file for leak in scan_folder(folder, [secret])}
        assert entries_with(files) <= found

        for name, data in files.items():
            (folder / name).write_bytes(scrub_blob(name, data, [secret]))  # zips rebuilt as the tool does
        leaks = [leak.file for leak in scan_folder(folder, [secret])]
        found = [hit.removeprefix("secret #0 in ") for hit in where(folder, [secret])]
        # A zip's own bytes (its headers: names, sizes, checksums, times; its compressed data)
        # are no artifact's content: a secret they happen to spell ("\x00\x00\x00\x00"), or that
        # spans a header and the bytes beside it, says nothing here; every entry's content is
        # still read (and a name that holds the secret is refused above).
        assume(not {"trace.zip", "trace.zip!nested.zip"} & {*leaks, *found})
        assert leaks == [] and found == []


def entry_names(data: bytes) -> list[str]:
    """Every entry's name in a zip and in the zips it holds (read as the scanner reads them)."""
    return [path.rsplit("!", 1)[1] for path, _ in entries("trace.zip", data) if "!" in path]


@settings(max_examples=60, deadline=None)
@given(secret=st.text(ANY, min_size=4, max_size=24))
@example(secret=HOSTILE_EXAMPLES[0])
@example(secret=HOSTILE_EXAMPLES[2])
def test_a_network_line_is_scrubbed_in_its_headers_and_in_its_values(secret: str) -> None:
    """Trace network lines carry the session cookie in every request's headers: the headers
    are replaced first, and a line that still holds the secret elsewhere (a form body) is
    scrubbed value by value; the other values of a header-only line stay as they were."""
    assume(plausible(secret))

    def lines(value: str) -> tuple[dict, dict]:
        cookie = [{"name": "Cookie", "value": f"SESSION={value}"}]
        both = {"type": "resource-snapshot", "snapshot": {"request": {"headers": cookie, "postData": {"text": "p=" + quote_plus(value)}}}}
        headers_only = {"type": "resource-snapshot", "snapshot": {"request": {"url": "/Widgets", "headers": cookie, "cookies": [{"name": "SESSION", "value": value}]}}}
        return both, headers_only

    # A secret that is part of the lines' own words ("/Wid" of /Widgets, '"snapshot":{"') is
    # rightly scrubbed there, or refused: not what this is about. The lines as read and as
    # written back (compact, the marker in place of the secret).
    skeleton = "\n".join(
        json.dumps(line, ensure_ascii=False, separators=separators)
        for value in ("", MARKER)
        for separators in ((", ", ": "), (",", ":"))
        for line in lines(value)
    ) + "\n"
    assume(secret not in skeleton)
    both, headers_only = lines(secret)
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in (both, headers_only)).encode()
    out = scrub_blob("trace.zip!0-trace.network", data, [secret])
    assert secrets_in(out, [secret]) == set() and header_leaks(out) == set() and where_bytes(out, secret) == []
    second = json.loads(out.decode().split("\n")[1])["snapshot"]["request"]
    assert second["url"] == "/Widgets" and second["headers"][0]["value"] == MARKER and second["cookies"][0]["value"] == MARKER


def _escaped(secret: str, every: bool) -> str:
    return "".join("\\u%04X" % ord(c) if every or ord(c) > 127 else c for c in secret)


def _zip_with_entry(name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(name, "hello")
    return out.getvalue()


TRICKY = {  # what a writer other than Playwright could put in a JSON-lines file or a zip
    "document over lines": ("0-trace.stacks", '{\n  "a": 1,\n  "p": "%s"\n}\n' % _escaped("hunter2-Secret", True), "hunter2-Secret"),
    "document over lines, non-ASCII escaped": ("0-trace.stacks", '{\n  "p": "%s"\n}\n' % _escaped("pässwörd-1234", False), "pässwörd-1234"),
    "header name spelt with escapes": (
        "0-trace.network",
        json.dumps({"note": "cookie consent"}) + '\n{"headers":[{"name":"\\u0043ookie","value":"SESSION=unknown-value"}]}\n',
        "hunter2-Secret",
    ),
}


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_what_the_scrub_writes_scans_clean_or_it_refuses(case: str) -> None:
    """The closing scan skips what the scrub has just written (by digest): so whatever the scrub
    writes must scan clean, byte for byte, or the scrub must refuse it (ScrubError)."""
    name, text, secret = TRICKY[case]
    try:
        out = scrub_blob(f"trace.zip!{name}", text.encode(), [secret])
    except ScrubError:
        return
    assert scan_blobs([(name, out)], [secret]) == []


def test_a_zip_entry_named_with_a_secret_is_refused() -> None:
    with pytest.raises(ScrubError, match="an entry whose name holds a secret"):
        scrub_blob("trace.zip", _zip_with_entry("resources/hunter2-Secret.txt"), ["hunter2-Secret"])


def where_bytes(data: bytes, secret: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "blob").write_bytes(data)
        return where(Path(tmp), [secret])


def test_the_scan_skips_a_scrubbed_file_only_while_it_has_the_bytes_read_clean(tmp_path: Path) -> None:
    secret = "s3cret-Value-1234"
    clean = scrub_blob("failure.txt", f"error: {secret}\n".encode(), [secret])
    (tmp_path / "failure.txt").write_bytes(clean)
    verified = {"failure.txt": digest(clean)}
    assert scan_folder(tmp_path, [secret], verified) == [] == scan_folder(tmp_path, [secret])
    (tmp_path / "failure.txt").write_bytes(clean + secret.encode())  # changed after it was scrubbed
    assert [leak.file for leak in scan_folder(tmp_path, [secret], verified)] == ["failure.txt"]


def _passwords() -> st.SearchStrategy[str]:
    # What a password input can hold: a browser drops line breaks (and NUL) from it.
    return st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), min_size=6, max_size=20)


@pytest.mark.slow
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))  # + the 2 hostile examples: 3 applies, 3 failed logins
@given(password=_passwords(), wrong=st.text(ANY, min_size=6, max_size=20))
@example(password='Pw"q\\é-€-\U0001f600', wrong="x\u2028y\u0085z\"\\ü")
@example(password="a%2B+b &amp; \u2028 c\x01", wrong="\U0001f600\U0001f600'\"<>&%+")
def test_a_real_apply_and_a_failed_login_leave_no_drawn_secret(
    password: str, wrong: str, browser: Browser, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assume(plausible(password) and plausible(wrong) and len(password.strip()) >= 4 and wrong != password)
    tmp = tmp_path_factory.mktemp("drawn")
    sandbox = start_in_thread(SandboxConfig(port=0, db=str(tmp / "sb.sqlite3"), admin_password=password))
    keys: list[str] = []
    sandbox.config.faults.on_api_key = keys.append
    try:
        def run(secret: str, runs: str) -> tuple[int, Path, str]:
            stream = io.StringIO()
            settings_ = ExplicitSettings(
                base=sandbox.base_url, email=ADMIN_EMAIL, password=secret, runs_dir=tmp / runs,
                key_sink=f"file:{tmp / 'keys.json'}", timeout=20,
            )
            report = execute(settings_, load_seeds(), ApplyOptions(trace=True, browser=browser), Console(stream))
            return report.exit_code, report.run_folder, stream.getvalue()

        code, folder, output = run(password, "runs-ok")
        assert code == ExitCode.OK, output
        secrets = [password, *sandbox.sandbox.issued_session_tokens, *keys]
        assert where(folder, secrets, {"console": output}) == []

        with monkeypatch.context() as m:
            m.setenv(UNSAFE_NO_SCRUB_ENV, "1")  # unscrubbed: only what was never recorded is absent
            code, folder, output = run(wrong, "runs-failed")
        assert code in (ExitCode.AUTH, ExitCode.SECRET_LEAK), output  # unscrubbed: the cookies are there
        assert "refused the login" in output
        assert (folder / "trace.zip").is_file()
        assert where(folder, [wrong], {"console": output}) == []
    finally:
        sandbox.stop()


# Encodings a secret may sit in, nested: what the reader must see through.
_WRAPS = {
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64url": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    "url": lambda s: quote(s, safe=""),
    "form": quote_plus,
    "html": html.escape,
    "json-ascii": lambda s: json.dumps({"v": s}),
    "json-utf8": lambda s: json.dumps([s], ensure_ascii=False),
}


@st.composite
def _wrapped(draw: st.DrawFn, secret: str) -> str:
    text = secret
    for name in draw(st.lists(st.sampled_from(sorted(_WRAPS)), max_size=3)):
        noise = draw(st.one_of(st.just(""), st.text(ANY, max_size=6)))  # none: as tight as it gets
        text = _WRAPS[name](noise + text + noise[::-1])
    return draw(st.text(ANY, max_size=12)) + text + draw(st.text(ANY, max_size=12))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), secrets=st.lists(st.text(ANY, min_size=6, max_size=30), min_size=1, max_size=3, unique=True))
def test_reading_skips_only_texts_shorter_than_every_secret(data: st.DataObject, secrets: list[str]) -> None:
    """The reader leaves undecoded what is shorter than the shortest secret looked for (no
    decoding lengthens a text): it finds exactly what reading everything finds."""
    from flows.known_secrets import encoded_bytes
    from flows.scrub import readings

    text = "".join(data.draw(_wrapped(s)) for s in data.draw(st.lists(st.sampled_from(secrets), min_size=1, max_size=3)))
    raw = text.encode()
    everything = list(readings(text))  # the floor at its least: every run of 8 and more is decoded
    expected = {s for s in secrets if any(f in raw for f in encoded_bytes(s)) or any(s in r for r in everything)}
    assert secrets_in(raw, secrets) == expected


@pytest.mark.parametrize("outer", sorted(_WRAPS))
@pytest.mark.parametrize("inner", sorted(_WRAPS))
def test_a_secret_filling_its_encoding_exactly_is_still_read(outer: str, inner: str) -> None:
    """The tightest cases of the length rule: nothing around the secret inside two encodings."""
    from flows.known_secrets import encoded_bytes
    from flows.scrub import readings

    for secret in ("Pw\"q'é–ü", "tok3n-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ab cd+"):
        raw = _WRAPS[outer](_WRAPS[inner](secret)).encode()
        if any(f in raw for f in encoded_bytes(secret)):
            continue  # seen without decoding: not what this is about
        assert any(secret in r for r in readings(raw.decode())), (outer, inner, secret)
        assert secrets_in(raw, [secret, secret + "-and-a-longer-one"]) == {secret}, (outer, inner, secret)


@pytest.mark.parametrize(
    ("spelt", "secret"),
    [
        # entities in %XX at the deepest layer: the last URL decoding is unescaped too
        (lambda s: _b64(_b64(_b64(quote(html.escape(s), safe="")))), 'p&<>"\'w-Secret-1234'),
        # a standard run that took a neighbouring _ in: read with the standard alphabet too
        (lambda s: "x " + _b64(s) + "_dGVzdA", "another-secret-value-xyz"),
        # a URL-safe run: read with its own alphabet
        (lambda s: "t=" + base64.urlsafe_b64encode(s.encode()).decode(), "??>>??>>-secret-~~"),
    ],
    ids=["entities at the last layer", "standard base64 and a trailing _", "base64url"],
)
def test_the_edges_of_the_reader(spelt, secret: str) -> None:  # noqa: ANN001
    assert secrets_in(spelt(secret).encode(), [secret]) == {secret}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_any_three_layers_of_encoding_are_read_through() -> None:
    """Every nesting of three of the encodings (343 of them): a %XX of a %XX, JSON in a URL in
    JSON, base64url in base64, each around secrets with quotes, non-ASCII, + and /."""
    from flows.known_secrets import encoded_bytes

    secrets = ("Pw\"q'é–ü", "tok3n-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ab cd+", "k+/k+/k+/k+/==x?ü", "??>>??>>??>>")
    missed = []
    for names in itertools.product(sorted(_WRAPS), repeat=3):
        for secret in secrets:
            text = secret
            for name in names:
                text = _WRAPS[name](text)
            raw = text.encode()
            if not any(f in raw for f in encoded_bytes(secret)) and secrets_in(raw, [secret]) != {secret}:
                missed.append((names, secret))
    assert missed == []


_NO_ESCAPE = st.characters(codec="utf-8", exclude_characters='"\\', exclude_categories=("Cc",))
_READABLE = st.one_of(
    st.text(_NO_ESCAPE, max_size=10),
    st.text(_NO_ESCAPE, min_size=1, max_size=12).map(lambda t: quote(t, safe="")),
    st.text(_NO_ESCAPE, min_size=1, max_size=12).map(lambda t: html.escape(t, quote=False)),
    st.text(_NO_ESCAPE, min_size=1, max_size=12).map(lambda t: base64.b64encode(t.encode()).decode()),
    st.sampled_from(["\x7f", "\u2028", "\u2029", "&amp;", "%2B", "+", "&#x41;", "QUJD", "==", "\U0001f600"]),
)
_READABLE_TEXT = st.lists(_READABLE, max_size=4).map("".join)
_NO_BACKSLASH_JSON = st.recursive(
    _READABLE_TEXT | st.integers() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_READABLE_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _strings(document: object) -> list[str]:
    if isinstance(document, str):
        return [document]
    if isinstance(document, list):
        return [s for item in document for s in _strings(item)]
    if isinstance(document, dict):
        return [s for k, v in document.items() for s in (k, *_strings(v))]
    return []


@settings(max_examples=300, deadline=None)
@given(document=_NO_BACKSLASH_JSON, depth=st.integers(0, 2), floor=st.integers(4, 12), lines=st.booleans())
def test_a_json_text_without_a_backslash_is_not_parsed_for_nothing(document: object, depth: int, floor: int, lines: bool) -> None:
    """The reader parses a JSON text only if it holds a backslash: without one nothing in it is
    escaped, so every reading of every string value (what parsing would add) is already part of
    one of the text's own readings, at any depth and floor."""
    from flows.scrub import readings

    text = json.dumps(document, ensure_ascii=False)
    if lines:
        text = text + "\n" + text  # JSON lines
    assume("\\" not in text)
    own = list(readings(text, depth, floor))
    for value in _strings(document):
        if len(value) < floor:
            continue  # the reader does not decode it either way
        for reading in readings(value, depth + 1, floor):
            assert any(reading in r for r in own), (value, reading)
