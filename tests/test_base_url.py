"""The base URL is kept as the browser spells it (``flows.settings.canonical_host``): what the run
compares with the browser's addresses (the origin guard, "is the page still on the base", the
key file's target) would otherwise differ from them for the same server, and a run against
``http://127.1:8000`` or ``https://bücher.example`` would have its own base refused.

Chromium is the oracle: its URL parser (``new URL(...)``, the one its address bar uses) says
what the origin of each base is, for hand-picked and for generated hosts.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, Page
from pydantic import ValidationError

from flows.errors import ExitCode
from flows.keysink import FileSink
from flows.settings import Settings
from tests.support import SandboxFactory, Tool, rows


def base_of(given_base: str) -> str | None:
    """The base the tool runs against for ``given_base``; None when it is refused."""
    try:
        return Settings(base=given_base, _env_file=None).base  # type: ignore[call-arg]
    except ValidationError:
        return None


def browser_origin(page: Page, url: str) -> str | None:
    """The origin Chromium gives ``url``; None when it is no valid URL to Chromium."""
    return page.evaluate("u => { try { return new URL(u).origin } catch { return null } }", url)


@pytest.mark.parametrize(
    ("given_base", "expected"),
    [
        ("https://hub.coulomb.social", "https://hub.coulomb.social"),
        ("http://127.1:8000", "http://127.0.0.1:8000"),
        ("http://0x7f.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://0177.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://2130706433:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1.:8000", "http://127.0.0.1:8000"),
        ("http://[0:0::1]:8000", "http://[::1]:8000"),
        ("HTTPS://Hub.Example.ORG:443", "https://hub.example.org"),
        ("http://hub.example.org:80", "http://hub.example.org"),
        ("https://BÜCHER.example", "https://xn--bcher-kva.example"),
        ("https://faß.de", "https://xn--fa-hia.de"),  # UTS 46 non-transitional, as Chromium: not fass.de
        ("http://my_host.internal:8080", "http://my_host.internal:8080"),
        ("http://foo.123", None),  # ends in a number, and is no IPv4 address
        ("http://1.2.3.256", None),
        ("http://[fe80::1%25eth0]:8000", None),  # a zone id: not in a browser's URL
        ("http://a..b", None),
        ("http://１２７．１:8000", "http://127.0.0.1:8000"),  # full-width: mapped (UTS 46) before read as a number
        ("http://[::ffff:127.0.0.1]:8000", "http://[::ffff:7f00:1]:8000"),
        ("http://localhost.:8000", "http://localhost.:8000"),
        ("http://127.0.0.1 x.1:8000", None),  # inet_aton would skip what follows the space
    ],
)
def test_the_base_is_the_origin_chromium_sees(page: Page, given_base: str, expected: str | None) -> None:
    assert base_of(given_base) == expected
    if expected is not None:
        assert browser_origin(page, given_base) == expected


def _ipv4_spellings(address: ipaddress.IPv4Address, parts: int, radix: str) -> str:
    """``address`` in one of the forms inet_aton and browsers read: 1-4 parts, the last one
    holding the remaining bytes, each part decimal, octal (0...) or hexadecimal (0x...)."""
    octets = list(address.packed)
    numbers = octets[: parts - 1] + [int.from_bytes(bytes(octets[parts - 1 :]), "big")]
    written = {"dec": str, "oct": lambda n: "0" + format(n, "o"), "hex": lambda n: "0x" + format(n, "x")}[radix]
    return ".".join(written(n) for n in numbers)


FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def st_dot_suffix(host: str) -> str:
    """A trailing dot on some of them (a fully qualified name, read the same)."""
    return "." if len(host) % 2 else ""


LABEL = st.text(alphabet=st.sampled_from("abcdexyzABCDEXYZ0123456789-_äöüßçéΣσςñ日本"), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    host=st.one_of(
        st.builds(_ipv4_spellings, st.ip_addresses(v=4), st.integers(1, 4), st.sampled_from(["dec", "oct", "hex"])),
        st.lists(LABEL, min_size=1, max_size=4).map(".".join),
        st.ip_addresses(v=6).map(lambda a: f"[{a.exploded}]"),
        st.ip_addresses(v=4).map(lambda a: f"[::ffff:{a}]"),
        st.builds(_ipv4_spellings, st.ip_addresses(v=4), st.integers(1, 4), st.just("dec")).map(
            lambda h: h.translate(FULL_WIDTH) + st_dot_suffix(h)
        ),
    ),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    scheme=st.sampled_from(["http", "https", "HTTP"]),
)
@example(host="xn--bcher-kva.example", port=None, scheme="https")
@example(host="ab--c.example", port=None, scheme="https")
def test_an_accepted_base_is_what_chromium_makes_of_it(page: Page, host: str, port: int | None, scheme: str) -> None:
    """Whatever the host: a base that is accepted is the origin Chromium gives it; one that
    Chromium cannot parse is refused (the tool may refuse more: it then says so at once)."""
    given_base = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    ours, chromium = base_of(given_base), browser_origin(page, given_base)
    if ours is not None:
        assert ours == chromium, given_base
    if chromium is None:
        assert ours is None, given_base


def test_a_run_against_another_spelling_of_the_address_stays_on_it(
    sandbox_factory: SandboxFactory, tmp_path, browser: Browser  # noqa: ANN001
) -> None:
    """The sandbox's address written as 127.1: the run logs in, creates everything and reads it
    back, the origin guard lets the base through, and the key is stored for the base as the
    browser spells it."""
    sandbox = sandbox_factory()
    port = sandbox.base_url.rsplit(":", 1)[1]
    tool = Tool(sandbox, tmp_path, browser)
    result = tool("apply", base=f"http://127.1:{port}")
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    assert [h.slug for h in rows(sandbox, "hubs") if h.slug == "ops-hub"] == ["ops-hub"]
    assert len(rows(sandbox, "widgets")) == 6
    assert tool.stored_key()["target"] == sandbox.base_url  # http://127.0.0.1:<port>


def test_a_key_stored_under_another_spelling_of_the_base_is_still_this_targets(tmp_path) -> None:  # noqa: ANN001
    """Key files keep the base each key was stored for; one written before bases were kept as
    the browser writes them is found, and replaced, under the base's present spelling, and is
    still no other target's."""
    path = tmp_path / "keys" / "ops-hub.key.json"
    FileSink(path, "HTTPS://Hub.Example.org:443").store("consumer-1", "ops-hub", "key-one-" + "x" * 24)
    sink = FileSink(path, base_of("HTTPS://Hub.Example.org:443"))
    assert sink.target == "https://hub.example.org"
    stored = sink.load("consumer-1")
    assert stored is not None and stored.api_key == "key-one-" + "x" * 24
    assert FileSink(path, "https://hub.example.com").load("consumer-1") is None
    sink.store("consumer-1", "ops-hub", "key-two-" + "y" * 24)  # a regenerated key replaces it
    assert [(e["target"], e["api_key"][:7]) for e in sink.entries()] == [("https://hub.example.org", "key-two")]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("[::1]", True),
        ("[::ffff:7f00:1]", True),  # ::ffff:127.0.0.1, as Chromium writes it
        ("[::ffff:a00:1]", False),  # ::ffff:10.0.0.1
        ("x.localhost", False),  # a name DNS answers for
        ("hub.example", False),
    ],
)
def test_this_machines_own_addresses_are_loopback(host: str, loopback: bool) -> None:
    # a loopback base needs no --allow-insecure-http, is not asked about, and goes through no proxy
    from flows.settings import is_loopback

    assert is_loopback(host) is loopback
