"""What every Inter-Hub admin screen shares, as IHP renders it.

- Navigation: open a path, check the HTTP status, notice the login page (session gone).
- Submits: IHP's JavaScript sends forms by XMLHttpRequest and swaps the body in, so no
  ``load`` event follows a submit. After a click we wait for the *outcome on the page*: the
  success landmark of the next screen, a form error (``.invalid-feedback``,
  ``.alert-danger``) or the login form; meanwhile failed requests (network errors, HTTP
  >= 400) end the wait early with their own message.
- Reading: IHP's tables and show pages, one browser round trip per table.

No fixed waits: every wait ends on an observed outcome or on the configured timeout.
Pages know nothing of seeds or the order of steps.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Request, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError


class Ihp:
    """Texts and selectors of IHP's layout, the same on every screen."""

    LOGIN_PATH = "/NewSession"
    LOGIN_PASSWORD_PLACEHOLDER = "Password"
    FORM_ERROR_CSS = ".invalid-feedback, .alert-danger"  # IHP gives no role or label for these
    FIELD_GROUP_CSS = ".mb-3"
    PLEASE_SELECT = "Please select"


# Slices of the outcome wait: between them, failed requests are looked at (a failure is
# noticed within a slice). Not a fixed wait: each slice ends as soon as the outcome shows.
_SLICE_MS = 1000
# How long a select may take to offer a value before its options are listed in an error.
_OPTION_WAIT_MS = 2000


class PageError(Exception):
    """An admin page did not do what was asked; the message is the page's own where it has one."""

    def __init__(self, message: str, *, screen: str, url: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.screen = screen
        self.url = url
        self.field = field


class FormError(PageError):
    """The form came back with validation errors (``invalid-feedback`` or an error flash)."""

    def __init__(self, errors: list[tuple[str | None, str]], *, screen: str, url: str):
        self.errors = errors
        text = "; ".join(f"{field}: {msg}" if field else msg for field, msg in errors)
        super().__init__(text, screen=screen, url=url, field=errors[0][0] if errors else None)


class SessionExpired(PageError):
    """Inter-Hub showed its login page instead of the admin page: the session is gone."""


class RequestFailed(PageError):
    """The server answered an error status, or the connection failed."""


class NotAsExpected(PageError):
    """The page does not have what this tool expects (the UI may have changed)."""


class OffTarget(PageError):
    """The browser is not on the base's origin (a redirect took it elsewhere)."""


@dataclass(frozen=True)
class Screen:
    """One state of an admin screen and the locators this tool relies on there (for doctor).

    ``optional`` locators are for fields only some Inter-Hub versions have.
    """

    name: str
    path: str
    landmarks: dict[str, Locator]
    optional: dict[str, Locator] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One row of an IHP index table: cell texts by column header, link targets by link text."""

    cells: dict[str, str]
    links: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url.split("?")[0]


def query_param(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


class _RequestWatch:
    """Failed document/XHR requests of one browser page since the last ``reset``."""

    TYPES = ("document", "xhr", "fetch")

    def __init__(self, page: Page):
        self.failures: list[str] = []
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)

    def reset(self) -> None:
        self.failures.clear()

    @staticmethod
    def _describe(request: Request) -> str:
        parts = urlsplit(request.url)
        return f"{request.method} {parts.path}"

    def _on_failed(self, request: Request) -> None:
        if request.resource_type in self.TYPES:
            self.failures.append(f"{self._describe(request)} failed: {request.failure or 'connection error'}")

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type in self.TYPES and response.status >= 400:
            self.failures.append(f"{self._describe(response.request)} answered HTTP {response.status} {response.status_text}".rstrip())


_watches: weakref.WeakKeyDictionary[Page, _RequestWatch] = weakref.WeakKeyDictionary()


def _watch(page: Page) -> _RequestWatch:
    if page not in _watches:
        _watches[page] = _RequestWatch(page)
    return _watches[page]


class AdminPage:
    """Base of the admin screens. Subclasses set ``SCREEN`` and their texts."""

    SCREEN = "admin page"

    def __init__(self, page: Page, base_url: str, timeout_s: float = 30.0):
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.login_form = page.get_by_placeholder(Ihp.LOGIN_PASSWORD_PLACEHOLDER, exact=True)
        _watch(page)

    # -------------------------------------------------------------- where we are

    @property
    def url(self) -> str:
        return self.page.url

    @property
    def path(self) -> str:
        return urlsplit(self.page.url).path

    def _error(self, cls: type[PageError], message: str, field: str | None = None) -> PageError:
        return cls(message, screen=self.SCREEN, url=self._relative(self.page.url), field=field)

    def ensure_on_target(self, what: str) -> None:
        """Raise :class:`OffTarget` unless the page is on the base's origin: nothing secret is
        typed into, sent to or read from another origin."""
        url = self.page.url
        if url != self.base_url and not url.startswith(self.base_url + "/"):
            raise OffTarget(
                f"{what}: the browser is on {_origin(url)}, not on {self.base_url}", screen=self.SCREEN, url=_origin(url)
            )

    def browser_gone(self) -> bool:
        browser = self.page.context.browser
        return self.page.is_closed() or (browser is not None and not browser.is_connected())

    def _relative(self, url: str) -> str:
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    # -------------------------------------------------------------- navigation

    def _open(self, path: str) -> None:
        watch = _watch(self.page)
        watch.reset()
        try:
            response = self.page.goto(self.base_url + path, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            if self.browser_gone():
                raise  # not the server's doing: the caller reports a dead browser as such
            first = exc.message.splitlines()[0] if exc.message else str(exc)
            raise RequestFailed(f"cannot open {path}: {first}", screen=self.SCREEN, url=path) from None
        if self.path == Ihp.LOGIN_PATH and not path.startswith(Ihp.LOGIN_PATH):
            raise self._error(SessionExpired, f"opening {path} showed the login page: the session is not valid")
        if response is not None and response.status >= 400:
            raise self._error(
                RequestFailed, f"GET {path} answered HTTP {response.status}: {self.page_message() or response.status_text}"
            )

    # -------------------------------------------------------------- submitting

    def _submit(self, button: Locator, success: Locator, *, what: str) -> None:
        """Click ``button`` and wait for ``success``, a form error or the login page."""
        self._click(button)
        self._await_outcome(success, what=what)

    def _click(self, button: Locator) -> None:
        """Click what sends a request; failures seen from here on end the next wait."""
        _watch(self.page).reset()
        button.click()

    def _await_outcome(self, success: Locator, *, what: str) -> None:
        """Wait for ``success``; between slices, look for the other outcomes: a failed request,
        the login page, form errors. The usual case costs one call (one traced action)."""
        watch = _watch(self.page)
        deadline = time.monotonic() + self.timeout_s
        while True:
            self._raise_failed_request(watch, what)
            try:
                success.first.wait_for(state="visible", timeout=_SLICE_MS)
            except PlaywrightTimeoutError:
                if self.login_form.is_visible():
                    raise self._error(SessionExpired, f"{what}: Inter-Hub showed the login page; the session has ended")
                errors = self.read_form_errors()
                if errors:
                    self._raise_failed_request(watch, what)  # an error page swapped in is the request's
                    raise FormError(errors, screen=self.SCREEN, url=self._relative(self.page.url))
                self._raise_on_deadline(deadline, what)
                continue
            self._raise_failed_request(watch, what)  # a failed request outranks what the page shows
            return

    def _await(self, outcome: Locator, what: str) -> None:
        """Wait until ``outcome`` is visible; fail early on a failed request, late on the timeout."""
        watch = _watch(self.page)
        deadline = time.monotonic() + self.timeout_s
        while True:
            self._raise_failed_request(watch, what)
            try:
                outcome.wait_for(state="visible", timeout=_SLICE_MS)
            except PlaywrightTimeoutError:
                self._raise_on_deadline(deadline, what)
                continue
            self._raise_failed_request(watch, what)  # IHP swaps an error page in: the request failed
            return

    def _raise_failed_request(self, watch: _RequestWatch, what: str) -> None:
        if watch.failures:
            message = self.page_message()
            detail = f" ({message})" if message else ""
            raise self._error(RequestFailed, f"{what}: {watch.failures[0]}{detail}")

    def _raise_on_deadline(self, deadline: float, what: str) -> None:
        if time.monotonic() >= deadline:
            raise self._error(
                NotAsExpected, f"{what}: nothing happened within {self.timeout_s:g} s (no next page, no error message)"
            )

    # -------------------------------------------------------------- forms

    def _choose(self, select: Locator, value: str, field: str) -> None:
        """Select the option whose value is ``value``; a clear error when there is none."""
        try:
            select.select_option(value=value, timeout=min(_OPTION_WAIT_MS, self.timeout_s * 1000))
            return
        except PlaywrightTimeoutError:
            pass  # no such option (or no such field): say which options there are
        if not select.count():
            raise self._error(NotAsExpected, f"the form has no {field} field", field)
        options: list[str] = select.evaluate("s => [...s.options].filter(o => !o.disabled).map(o => o.value)")
        offered = ", ".join(f"{v!r}" for v in options) or "nothing"
        raise self._error(NotAsExpected, f"the {field} field has no option {value!r} (it offers {offered})", field)

    def _set(self, field: Locator, value: str, name: str) -> None:
        """Fill a text input or textarea, or choose in a select, whichever the form has."""
        if field.evaluate("e => e.tagName") == "SELECT":
            self._choose(field, value, name)
        else:
            field.fill(value)

    def read_form_errors(self) -> list[tuple[str | None, str]]:
        """(field label, message) for each ``invalid-feedback``; (None, text) for error flashes."""
        found: list[list[Any]] = self.page.evaluate(
            """([css, groupCss]) => [...document.querySelectorAll(css)].map(e => {
                if (!e.classList.contains('invalid-feedback')) return [null, e.textContent.trim()];
                const group = e.closest(groupCss);
                const label = group && group.querySelector('label');
                return [label ? label.textContent.trim() : null, e.textContent.trim()];
            })""",
            [Ihp.FORM_ERROR_CSS, Ihp.FIELD_GROUP_CSS],
        )
        return [(label, text) for label, text in found if text]

    def page_message(self) -> str:
        """The page's own explanation: an error flash, else its main heading."""
        try:
            texts = self.page.evaluate(
                """css => {
                    const a = document.querySelector(css);
                    if (a) return a.textContent.trim();
                    const h = document.querySelector('h1');
                    return h ? h.textContent.trim() : '';
                }""",
                Ihp.FORM_ERROR_CSS,
            )
        except PlaywrightError:
            return ""
        return re.sub(r"\s+", " ", str(texts))[:300]

    # -------------------------------------------------------------- reading

    @staticmethod
    def read_table(table: Locator) -> list[Row]:
        """An IHP index table as rows keyed by column header: one round trip."""
        rows: list[dict[str, Any]] = table.evaluate(
            """t => {
                const heads = [...t.querySelectorAll('thead th')].map(th => th.textContent.trim());
                return [...t.querySelectorAll('tbody tr')].map(tr => {
                    const cells = {};
                    [...tr.querySelectorAll('td')].forEach((td, i) => {
                        cells[heads[i] || String(i)] = td.textContent.replace(/\\s+/g, ' ').trim();
                    });
                    const links = {};
                    tr.querySelectorAll('a').forEach(a => { links[a.textContent.trim()] = a.getAttribute('href'); });
                    return {cells, links};
                });
            }"""
        )
        return [Row(r["cells"], r["links"]) for r in rows]

    @staticmethod
    def read_record(table: Locator) -> dict[str, str]:
        """A show page's record table (``<th scope=row>`` label, ``<td>`` value)."""
        return table.evaluate(
            """t => Object.fromEntries([...t.querySelectorAll('tr')]
                .filter(tr => tr.querySelector('th') && tr.querySelector('td'))
                .map(tr => [tr.querySelector('th').textContent.trim(),
                            tr.querySelector('td').textContent.replace(/\\s+/g, ' ').trim()]))"""
        )

    def id_from_url(self, param: str) -> str:
        value = query_param(self.page.url, param)
        if not value:
            raise self._error(NotAsExpected, f"the address {self._relative(self.page.url)} carries no {param}")
        return value

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        """The screens of this page object that ``doctor`` can open with the given record ids
        (hub_id, manifest_id, draft_manifest_id, consumer_id), and their locators."""
        return []
