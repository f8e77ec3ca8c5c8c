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

import contextlib
import difflib
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Dialog, Locator, Page, Request, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from pages.origins import origin, scheme_host_port


class Ihp:
    """Texts and selectors of IHP's layout, the same on every screen."""

    UI_TEXTS_SECTION = "layout"
    LOGIN_PATH = "/NewSession"
    LOGIN_PASSWORD_PLACEHOLDER = "Password"
    FORM_ERROR_CSS = ".invalid-feedback, .alert-danger"  # IHP gives no role or label for these
    # setSuccessMessage's flash: where IHP's generated controllers land after saving (the index
    # after a create, the edit form after an update), a sign that the record was saved (see saved)
    SAVED_CSS = ".alert-success"
    # Bootstrap 5 (mb-3), Bootstrap 4 (form-group) and IHP's own id on either
    FIELD_GROUP_CSS = ".mb-3, .form-group, [id^='form-group-']"
    # what IHP's generator adds to a foreign key's label and column ("Hub" -> "Hub Id"); a
    # selectField drops it again (removeIdSuffix)
    REFERENCE_SUFFIX = " Id"


def reference_texts(text: str) -> tuple[str, str]:
    """How IHP names a reference to another record: "Hub" (a select) or "Hub Id" (a text box,
    a generated index's column)."""
    return text, f"{text}{Ihp.REFERENCE_SUFFIX}"


# a record's id as a Hub column of IHP's generated index gives it
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def norm(text: str) -> str:
    """A visible text as a person compares it: case, whitespace and underscores (between words
    too: IHP writes a model's name unspaced where a person spaces it, "Show ApiConsumer"),
    required markers (``*``) and trailing colons do not count. The same rule as ``_NORM_JS``."""
    text = re.sub(r"^[\s_*]+|[\s_*:]+$", "", text)
    return re.sub(r"[\s_]+", "", text).lower()


_NORM_JS = r"s => s.replace(/^[\s_*]+|[\s_*:]+$/g, '').replace(/[\s_]+/g, '').toLowerCase()"

# How a form's field is filled (AdminPage.fill_form): typed into, chosen (a select's option, or
# typed where the field is a text box), or a reference to the record a new one belongs to
# (set where the form shows it, left where it does not or holds it already).
TEXT, CHOICE, REFERENCE = "text", "choice", "reference"

# AdminPage.fill_form in the page: (roots, [[label, label patterns, value, how], ...]) -> true
# when every field was found once by its label and was ready, and each holds its value after it
# was set; false otherwise, having set nothing where a field is not there once or not ready.
# - Found as Playwright's get_by_label finds it, in every root and its open shadow roots: by its
#   aria-labelledby elements (each on its own), else its aria-label, else its <label>s (for an
#   input, not a hidden one, a select, a textarea, ...), their text read as Playwright reads it
#   and tested with the field locator's own pattern (``tolerant``).
# - Ready as Playwright's fill and select_option wait for it: shown (a box with a size, not
#   hidden), enabled (not disabled, the nearest aria-disabled not "true"), and for typing a
#   text box or area that is not read-only, whose maxlength the value fits and, in a one-line
#   box, that holds no line break (Playwright's fill is left to do what typing one does); a
#   select (not a multiple one) must hold an enabled option of that value. A number, date or
#   other box is left to Playwright's fill.
# - Set through the element class's own value setter (past an override on the element), then
#   an input and a change event (synthetic ones: no focus, no key events; IHP's helpers.js sends
#   what the form holds). A value the page does not keep (a handler that changed it or replaced
#   the field) makes the call false: the caller fills field by field again.
_FILL_FORM_JS = r"""(roots, entries) => {
    // a label's text as Playwright's elementText reads it: text nodes, a button input's value,
    // open shadow roots; not <script>, <noscript>, <style>
    const SKIPPED = ['SCRIPT', 'NOSCRIPT', 'STYLE'];
    const text = node => {
        if (!node || SKIPPED.includes(node.nodeName)) return '';
        if (node.nodeName === 'INPUT' && ['submit', 'button', 'reset'].includes(node.type)) return node.value;
        let out = '';
        for (let child = node.firstChild; child; child = child.nextSibling) {
            if (child.nodeType === Node.TEXT_NODE) out += child.nodeValue || '';
            else if (child.nodeType === Node.ELEMENT_NODE) out += text(child);
        }
        return node.shadowRoot ? out + text(node.shadowRoot) : out;
    };
    const LABELLED = ['BUTTON', 'METER', 'OUTPUT', 'PROGRESS', 'SELECT', 'TEXTAREA'];
    const names = e => {
        const ids = (e.getAttribute('aria-labelledby') || '').split(/[ \t\n\f\r]+/).filter(Boolean);
        const by = ids.map(id => e.getRootNode().getElementById(id)).filter(Boolean);
        if (by.length) return by.map(text);
        const aria = e.getAttribute('aria-label');
        if (aria !== null && aria.trim()) return [aria];
        if (LABELLED.includes(e.nodeName) || (e.nodeName === 'INPUT' && e.type !== 'hidden')) return [...(e.labels || [])].map(text);
        return [];
    };
    const all = [];
    const walk = root => root.querySelectorAll('*').forEach(e => { all.push(e); if (e.shadowRoot) walk(e.shadowRoot); });
    roots.forEach(walk);
    const labelled = all.map(e => [e, names(e)]).filter(([, n]) => n.length);
    const TYPED = ['text', 'search', 'email', 'url', 'tel', 'textarea'];
    const SETTERS = {INPUT: HTMLInputElement, TEXTAREA: HTMLTextAreaElement, SELECT: HTMLSelectElement};
    const shown = e => {
        const box = e.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && e.checkVisibility() && getComputedStyle(e).visibility === 'visible';
    };
    // Playwright's: natively disabled, or the nearest aria-disabled (itself, its ancestors,
    // across shadow hosts) says "true", case aside
    const enabled = e => {
        if (e.matches(':disabled')) return false;
        for (let a = e; a; a = a.parentElement || a.getRootNode().host) {
            const said = (a.getAttribute('aria-disabled') || '').toLowerCase();
            if (said === 'true') return false;
            if (said === 'false') return true;
        }
        return true;
    };
    const takes = (e, how, value) => {
        if (e.nodeName === 'SELECT') return how !== 'text' && !e.multiple && [...e.options].some(o => o.value === value && !o.disabled);
        if (!TYPED.includes(e.type) || e.readOnly) return false;
        if (e.maxLength >= 0 && value.length > e.maxLength) return false;
        return e.nodeName === 'TEXTAREA' || !/[\r\n]/.test(value);
    };
    const kept = (e, value) => e.value === (e.nodeName === 'TEXTAREA' ? value.replace(/\r\n?/g, '\n') : value);
    const plan = [];
    for (const [, patterns, value, how] of entries) {
        const wanted = patterns.map(p => new RegExp(p, 'i'));
        const found = labelled.filter(([, n]) => n.some(x => wanted.some(w => w.test(x)))).map(([e]) => e);
        if (!found.length && how === 'reference') continue;
        if (found.length !== 1) return false;
        const e = found[0];
        if (!(e.nodeName in SETTERS) || !shown(e) || !enabled(e)) return false;
        if (how === 'reference' && e.value.toLowerCase() === value.toLowerCase()) continue;
        if (!takes(e, how, value)) return false;
        plan.push([e, value]);
    }
    for (const [e, value] of plan) {
        Object.getOwnPropertyDescriptor(SETTERS[e.nodeName].prototype, 'value').set.call(e, value);
        e.dispatchEvent(new Event('input', {bubbles: true}));
        e.dispatchEvent(new Event('change', {bubbles: true}));
    }
    return plan.every(([e, value]) => e.isConnected && kept(e, value));
}"""

# An IHP index table (one <table>) as [{cells: {header: text}, links: {text: href}}] per row.
_READ_TABLE_JS = r"""t => {
    const norm = NORM;
    const text = e => e.textContent.replace(/\s+/g, ' ').trim();
    const headRow = t.querySelector('thead tr') || t.querySelector('tr');
    const heads = headRow ? [...headRow.children].map(c => norm(text(c))) : [];
    const body = [...t.querySelectorAll('tr')].filter(tr => tr !== headRow && !tr.closest('thead'));
    return body.map(tr => {
        const cells = {};
        [...tr.children].forEach((td, i) => { cells[heads[i] || String(i)] = text(td); });
        const links = {};
        tr.querySelectorAll('a').forEach(a => { links[norm(text(a))] = a.getAttribute('href'); });
        return {cells, links};
    });
}""".replace("NORM", _NORM_JS)


def tolerant(text: str) -> re.Pattern[str]:
    """A pattern for a visible text, matched as :func:`norm` compares: "Name", "name *",
    "Name:" and "  NAME " all match "Name", "Show ApiConsumer" matches "Show Api Consumer";
    "Hub Name" does not match "Name" (no substring matches, so a label stays unambiguous)."""
    words = [w for w in re.split(r"[\s_]+", text.strip()) if w]
    body = r"[\s_]*".join(re.escape(w) for w in words)
    return re.compile(rf"^[\s*]*{body}[\s*:]*$", re.I)


@dataclass(frozen=True)
class Target:
    """An element the tool relies on, as a person finds it: what kind of element, the visible
    text it goes by, the locator, and the ui-texts key that sets that text."""

    kind: str  # field, button, heading, table, label, text
    text: str
    locator: Locator
    key: str
    labels: tuple[str, ...] = ()  # a field: the labels it may go by (see AdminPage.fill_form)

    def describe(self) -> str:
        what = {"table": "table with the columns", "label": "value labelled"}.get(self.kind, self.kind)
        return f"{what} {self.text!r}"


def text_of(texts: type, attr: str, sub: str | None = None) -> str:
    value = getattr(texts, attr)
    return str(value[sub] if sub is not None else value)


def key_of(texts: type, attr: str, sub: str | None = None) -> str:
    """The ui-texts key of a text: ``hubs.domain``, ``manifests.vocabulary.declaredWidgetTypes``."""
    key = f"{getattr(texts, 'UI_TEXTS_SECTION', texts.__name__)}.{attr.lower()}"
    return f"{key}.{sub}" if sub is not None else key


# What a screen offers instead of a missing element, by the kind of element looked for:
# visible texts of that kind inside the scope (main content, else the body).
_CANDIDATES_JS = """(root, kind) => {
    const text = e => (e.textContent || '').replace(/\\s+/g, ' ').trim();
    const all = sel => [...root.querySelectorAll(sel)].filter(e => !e.closest('[hidden]'));
    const label = e => e.getAttribute('aria-label') || (e.labels && e.labels[0] ? text(e.labels[0]) : '')
        || e.getAttribute('placeholder') || '';
    if (kind === 'field') return [...all('label').map(text), ...all('input, textarea, select').map(label)];
    if (kind === 'button') return all('button, input[type=submit], input[type=button], [role=button]')
        .map(e => e.getAttribute('aria-label') || text(e) || e.value || '');
    if (kind === 'heading') return all('h1, h2, h3, h4, h5, h6, [role=heading], .card-header').map(text);
    if (kind === 'table') return all('table').map(t => 'columns: ' + [...t.querySelectorAll('th')]
        .filter(th => !th.closest('tbody')).map(text).filter(Boolean).join(' | '));
    if (kind === 'link') return all('a').map(text);
    return all('th, dt, strong, b, label, .label').map(text);
}"""


def candidates(root: Locator, kind: str, wanted: str, limit: int = 8) -> list[str]:
    """The visible texts of this kind near ``root``, the closest to ``wanted`` first."""
    try:
        found: list[str] = root.first.evaluate(_CANDIDATES_JS, kind, timeout=5000)
    except PlaywrightError:
        return []
    unique = list(dict.fromkeys(t for t in found if t and t.strip()))
    want = norm(wanted)
    unique.sort(key=lambda t: -difflib.SequenceMatcher(None, norm(t), want).ratio())
    return unique[:limit]


# Slices of the outcome wait: between them, failed requests are looked at (a failure is
# noticed within a slice). Not a fixed wait: each slice ends as soon as the outcome shows.
_SLICE_MS = 1000
# How long a field to fill or choose in may take to appear before the screen is examined for
# the error (what it offers instead). Server-rendered forms are there as soon as
# the page is; a slower one is still waited for, up to the timeout, once it is seen to be there.
_FIND_MS = 2000
# How long a select may take to offer a value before its options are listed in an error.
_OPTION_WAIT_MS = 2000
_NOT_A_SELECT = "Element is not a <select> element"  # Playwright's select_option on another element

# What a mouse would press at a point of the page (see AdminPage._pressable): the button there
# (its name, whether it is disabled), or what covers the point, named by its tag, id and class
# (not by its text).
_AT_POINT_JS = """([x, y]) => {
    const hit = document.elementFromPoint(x, y);
    if (!hit) return {cover: 'nothing (outside the window)'};
    const b = hit.closest('button, input[type=submit], input[type=button], [role=button]');
    if (b) return {
        name: (b.getAttribute('aria-label') || (b.tagName === 'INPUT' ? b.value : b.textContent) || '').replace(/\\s+/g, ' ').trim(),
        disabled: !!(b.disabled || b.closest('fieldset[disabled]') || b.getAttribute('aria-disabled') === 'true'),
    };
    const id = hit.id ? '#' + hit.id : '';
    const cls = typeof hit.className === 'string' && hit.className.trim() ? '.' + hit.className.trim().split(/\\s+/).join('.') : '';
    return {cover: '<' + hit.tagName.toLowerCase() + id + cls + '>'};
}"""


def _clip(text: str, limit: int = 80) -> str:
    """``text`` on one line (runs of white space as one space), cut to ``limit`` characters."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(exc: BaseException, default: str | None = None) -> str:
    """An error's first line, for a one-line report (Playwright appends a call log to its
    message); ``default`` (else the error's type name) when it has no text."""
    text = getattr(exc, "message", None) or str(exc)
    return next((line.strip() for line in str(text).splitlines() if line.strip()), default or type(exc).__name__)


class PageError(Exception):
    """An admin page did not do what was asked; the message is the page's own where it has one."""

    def __init__(self, message: str, *, screen: str, url: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.screen = screen
        self.url = url
        self.field = field
        self.dialogs: list[str] = []  # dialogs the page showed that were dismissed (see _submit_with_dialogs)


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
    landmarks: dict[str, Locator | Target]
    optional: dict[str, Locator | Target] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One row of an IHP index table: cell texts by column header, link targets by link text."""

    cells: dict[str, str]  # keyed by the normalised column header (see :func:`norm`)
    links: dict[str, str]  # keyed by the normalised link text

    def __getitem__(self, column: str) -> str:
        return self.cells.get(norm(column), "")

    def link(self, text: str) -> str:
        return self.links.get(norm(text), "")

    def reference(self, label: str) -> str | None:
        """The cell naming the record this one belongs to: the column ``label`` ("Hub"), or
        ``label Id`` as IHP's generated index heads a foreign key (``columnNameToFieldLabel``
        keeps the "Id" that a select's label drops); None where the table has neither."""
        for column in reference_texts(label):
            if norm(column) in self.cells:
                return self.cells[norm(column)]
        return None

    def belongs_to(self, label: str, record_id: str, slug: str, param: str) -> bool | None:
        """Whether the row is of the record with ``record_id`` and ``slug``: True where the table
        has no ``label`` column (the index is that record's already, as ``?hubId=`` asks), else
        where that column gives its id (IHP's generated index lists every hub's rows, by id) or
        its slug, or links to its page (``?param=`` the id); False where it gives another id or
        links to another record's page; None for anything else (a name or another slug: another
        hub may bear it, or this one under other words), which is not guessed."""
        cell = self.reference(label)
        if cell is None or cell == slug or cell.lower() == record_id.lower():
            return True
        linked = query_param(self.link(cell), param)
        if linked:
            return linked.lower() == record_id.lower()
        return False if _UUID.match(cell) else None


def query_param(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


# A request the tool's own script sends from a page (LoginPage.admits) carries this header: its
# outcome is the tool's to read, not a failure of what the page was doing.
PROBE_HEADER = "x-ihub-bootstrap-probe"


def redirect_chain(request: Request) -> list[Request]:
    """``request`` and the requests it was redirected from, back to the first one sent (last)."""
    chain = [request]
    while chain[-1].redirected_from is not None:
        chain.append(chain[-1].redirected_from)
    return chain


class _RequestWatch:
    """Failed page loads and XHR/fetch requests of one browser page since the last ``reset``:
    page loads in the tab itself, wherever they go, and a script's requests sent to the base's
    origin, wherever a redirect then took them. Not the tool's own (:data:`PROBE_HEADER`), nor
    a frame's inside the page (an embedded help widget), nor what a script sends to another
    origin from the start (a customised app's analytics beacon): the origin guard refuses
    those, and their failure says nothing of how the page's own request went.

    ``redirected``: of those failures, the origins elsewhere that a redirect of a request to
    the base took them to (the origin guard refused them; where nothing refused them, a page
    that lands there is seen by its address, see :meth:`AdminPage.ensure_on_target`):
    Inter-Hub sending the browser away, which ends even a wait that lets other failures pass
    (an operator's login by hand)."""

    TYPES = ("document", "xhr", "fetch")

    def __init__(self, page: Page, base: str):
        self.base = scheme_host_port(base) if base else None  # None: every request counts
        self.failures: list[str] = []
        self.redirected: list[str] = []
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)

    def reset(self) -> None:
        self.failures.clear()
        self.redirected.clear()

    @staticmethod
    def _describe(request: Request) -> str:
        parts = urlsplit(request.url)
        return f"{request.method} {parts.path}"

    def _ignored(self, request: Request) -> bool:
        """The tool's own request, one a script sends elsewhere from the start (a redirect's
        next request may not show the header yet: the chain is followed back to its first), or
        a frame's in the page (a help widget, wherever it starts). A page load in the tab itself
        is never ignored, elsewhere included (a form whose action is another origin: the origin
        guard names it)."""
        chain = redirect_chain(request)
        if any(PROBE_HEADER in r.headers for r in chain):
            return True
        if request.resource_type == "document":
            try:
                return request.frame.parent_frame is not None  # a frame in the page, wherever it starts
            except PlaywrightError:  # no frame (a service worker's): not the tab's page load
                return True
        return self.base is not None and scheme_host_port(chain[-1].url) != self.base

    def _on_failed(self, request: Request) -> None:
        if request.resource_type in self.TYPES and not self._ignored(request):
            self.failures.append(f"{self._describe(request)} failed: {request.failure or 'connection error'}")
            if scheme_host_port(redirect_chain(request)[-1].url) == self.base != scheme_host_port(request.url):
                self.redirected.append(origin(request.url))

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type in self.TYPES and response.status >= 400 and not self._ignored(response.request):
            self.failures.append(f"{self._describe(response.request)} answered HTTP {response.status} {response.status_text}".rstrip())


_watches: weakref.WeakKeyDictionary[Page, _RequestWatch] = weakref.WeakKeyDictionary()


def request_watch(page: Page, base: str = "") -> _RequestWatch:
    """The page's one watch of failed requests, made by the first page object on it (which
    gives the ``base``)."""
    if page not in _watches:
        _watches[page] = _RequestWatch(page, base)
    return _watches[page]


class AdminPage:
    """Base of the admin screens. Subclasses set ``SCREEN`` and their texts."""

    SCREEN = "admin page"

    def __init__(self, page: Page, base_url: str, timeout_s: float = 30.0):
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.login_form = page.get_by_placeholder(Ihp.LOGIN_PASSWORD_PLACEHOLDER, exact=True)
        # The content being worked on: <main> where the layout has one, else the body. Navbars,
        # sidebars and footers outside <main> may carry links and buttons named like the screens.
        self.root = page.get_by_role("main").or_(page.locator("body").filter(has_not=page.get_by_role("main")))
        self.saved_flash = page.locator(Ihp.SAVED_CSS)  # the page's, wherever its layout puts flashes
        self._buttons_found: set[str] = set()  # ui-texts keys of buttons counted once (see _click)
        self._references_shown: dict[str, bool] = {}  # ui-texts key -> the form shows it (see set_reference)
        request_watch(page, self.base_url)

    # -------------------------------------------------------------- what the tool looks for

    def field(self, texts: type, attr: str, sub: str | None = None) -> Target:
        """A form field by its label (or aria-label), compared as a person reads it."""
        text = text_of(texts, attr, sub)
        return Target("field", text, self.root.get_by_label(tolerant(text)), key_of(texts, attr, sub), (text,))

    def button(self, texts: type, attr: str) -> Target:
        """A button of a form in the main content (not the navigation's look-alikes)."""
        text = text_of(texts, attr)
        locator = self.root.locator("form").get_by_role("button", name=tolerant(text))
        return Target("button", text, locator, key_of(texts, attr))

    def action(self, texts: type, attr: str) -> Target:
        """A control that acts on the record shown (Activate): a button of a form in the main
        content, or a link there (IHP's ``js-delete`` links post what they name, after a
        ``confirm()``; DESIGN.md: "Delete/activate links that ask confirm()")."""
        button = self.button(texts, attr)
        link = self.root.get_by_role("link", name=tolerant(button.text))
        return Target("button", button.text, button.locator.or_(link), button.key)

    def reference_field(self, texts: type, attr: str) -> Target:
        """The form field naming the record a new one belongs to, labelled as IHP labels a
        foreign key: "Hub" (``selectField``) or "Hub Id" (``textField``, what the generator
        writes)."""
        text = text_of(texts, attr)
        select, box = (self.root.get_by_label(tolerant(t)) for t in reference_texts(text))
        return Target("field", text, select.or_(box), key_of(texts, attr), reference_texts(text))

    def heading(self, texts: type, attr: str, sub: str | None = None) -> Target:
        text = text_of(texts, attr, sub)
        return Target("heading", text, self.root.get_by_role("heading", name=tolerant(text)), key_of(texts, attr, sub))

    def block(self, texts: type, attr: str, sub: str | None = None) -> Target:
        """What names a read-only block of a show page (:meth:`read_blocks`): a heading, or the
        term of a description list (IHP's generated show page)."""
        heading = self.heading(texts, attr, sub)
        term = self.root.get_by_role("term").filter(has_text=tolerant(heading.text))  # a term's name is not its text
        return Target("heading", heading.text, heading.locator.or_(term), heading.key)

    def table(self, texts: type, *columns: str, one_of: tuple[str, ...] = ()) -> Target:
        """The table in the main content that has all these column headers, and, given
        ``one_of`` (attributes of ``texts``, each also with IHP's " Id"), at least one of those."""
        locator = self.root.get_by_role("table")
        for attr in columns:
            locator = locator.filter(has=self.page.get_by_role("columnheader", name=tolerant(text_of(texts, attr))))
        text = ", ".join(text_of(texts, attr) for attr in columns)
        keys = ", ".join(key_of(texts, attr) for attr in columns)
        if one_of:
            wanted = [t for attr in one_of for t in reference_texts(text_of(texts, attr))]
            header = self.page.get_by_role("columnheader", name=tolerant(wanted[0]))
            for other in wanted[1:]:
                header = header.or_(self.page.get_by_role("columnheader", name=tolerant(other)))
            locator = locator.filter(has=header)
            text += ", " + " or ".join(wanted)
            keys += ", " + " or ".join(key_of(texts, attr) for attr in one_of)
        return Target("table", text, locator, keys)

    def label(self, texts: type, attr: str) -> Target:
        """The label a record value is shown beside on a show page, whatever element holds it."""
        text = text_of(texts, attr)
        return Target("label", text, self.root.get_by_text(tolerant(text)), key_of(texts, attr))

    def missing(self, target: Target, *, count: int | None = None) -> NotAsExpected:
        """The error for an element that is not there (or more than once), with what the
        screen offers instead, closest first, and the ui-texts key that sets its text."""
        n = target.locator.count() if count is None else count
        found = "is not on the screen" if n == 0 else f"matches {n} elements"
        offered = candidates(self.root, target.kind, target.text)
        near = "; the screen offers: " + ", ".join(repr(c) for c in offered) if offered else ""
        message = (
            f"the {target.describe()} {found}{near} "
            f"(set {target.key} in a --ui-texts file if Inter-Hub names it differently; `ihub-bootstrap doctor` lists every element)"
        )
        field = target.text if target.kind == "field" else None
        return self._error(NotAsExpected, message, field)  # type: ignore[return-value]

    def one(self, target: Target, *, before_reading: bool = False) -> Locator:
        """The target's element, checked to be there exactly once (the page is loaded).

        ``before_reading``: the page is read next (:meth:`read_record` and the like run in the
        page's own script context), so it is counted there too. Playwright sets its selector
        engine up afresh in each of a document's two script contexts, the page's (evaluations)
        and its own isolated one (count, fill, click, waits), about 20 ms on the first call in
        each: a page that is only read then touches one of them (a show page: 20 ms less)."""
        n = target.locator.evaluate_all("els => els.length") if before_reading else target.locator.count()
        if n != 1:
            raise self.missing(target, count=n)
        return target.locator

    def _fill_text(self, target: Locator | Target, value: str) -> None:
        """Fill a field. The fill itself waits for the element and refuses an ambiguous
        locator, so no count goes before it (a round trip and a traced action fewer on every
        field). When the element is not there within ``_FIND_MS``, or is there more than once,
        the error says what the screen offers; one that is there but not ready yet (disabled,
        covered) gets the rest of the timeout: a second fill after a timed-out first one does
        no harm. (Only a fill: a click or a submit must never be tried twice, see :meth:`_click`.)"""
        full = self.timeout_s * 1000
        if not isinstance(target, Target):
            target.fill(value, timeout=full)
            return
        first = min(_FIND_MS, full)
        try:
            target.locator.fill(value, timeout=first)
            return
        except PlaywrightTimeoutError:
            n = target.locator.count()
        except PlaywrightError as exc:
            if "strict mode violation" not in (exc.message or ""):
                raise
            n = target.locator.count()
        if n != 1:
            raise self.missing(target, count=n) from None
        target.locator.fill(value, timeout=max(full - first, 1))

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
        """Raise :class:`OffTarget` where the page is on another origin (scheme, host, port) than
        the base's: nothing secret is typed into, sent to or read from another origin. A page
        that is on none (Chromium's error page for a load that failed, ``about:blank``) is not
        elsewhere: what failed says so (the request watch; see :meth:`_await`)."""
        url = self.page.url
        if url.startswith(("about:", "chrome-error:")):
            return
        inner = url.split(":", 1)[1] if url.startswith(("blob:", "filesystem:")) else url  # of the origin inside
        if scheme_host_port(inner) != scheme_host_port(self.base_url):
            raise OffTarget(
                f"{what}: the browser is on {origin(inner)}, not on {self.base_url}", screen=self.SCREEN, url=origin(inner)
            )

    def browser_gone(self) -> bool:
        browser = self.page.context.browser
        return self.page.is_closed() or (browser is not None and not browser.is_connected())

    def _relative(self, url: str) -> str:
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    # -------------------------------------------------------------- navigation

    def _open(self, path: str, *, reuse_open_page: bool = False) -> None:
        """Load ``path``. ``reuse_open_page``: the page is there already (where the last submit
        landed, e.g. a record's show page after its form): use it as it is, no second load."""
        if reuse_open_page and self.page.url == self.base_url + path:
            return
        watch = request_watch(self.page)
        watch.reset()
        try:
            response = self.page.goto(self.base_url + path, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            if self.browser_gone():
                raise  # not the server's doing: the caller reports a dead browser as such
            self._raise_if_redirected(watch, f"open {path}")
            raise RequestFailed(f"cannot open {path}: {first_line(exc)}", screen=self.SCREEN, url=path) from None
        self.ensure_on_target(f"open {path}")  # a redirect elsewhere: nothing there is read
        if self.path == Ihp.LOGIN_PATH and not path.startswith(Ihp.LOGIN_PATH):
            raise self._error(SessionExpired, f"opening {path} showed the login page: the session is not valid")
        if response is not None and response.status >= 400:
            raise self._error(
                RequestFailed, f"GET {path} answered HTTP {response.status}: {self.page_message() or response.status_text}"
            )

    # -------------------------------------------------------------- submitting

    def saved(self, shown: Target, listed: Locator | None = None) -> Target:
        """What says that a form saved its record: ``shown`` (the record's show page, where a
        customised app lands), or where IHP's generated controllers land: the index listing the
        record (``listed``, after a create; see :meth:`landed_id`), else the success flash (the
        edit form again, after an update). Called before the submit: a flash the form already
        shows counts for nothing (flashes live in the session: another page of the run may
        show this one's, or this page another's; so the widget pages side by side never rely
        on one)."""
        if listed is not None:
            other = listed
        elif self.saved_flash.count():
            return shown
        else:
            other = self.saved_flash
        return Target(shown.kind, shown.text, shown.locator.or_(other), shown.key)

    def listing(self, table: Target, text: str) -> Locator:
        """A cell of ``table`` whose text is exactly ``text`` (the index listing a record)."""
        return table.locator.get_by_role("cell", name=text, exact=True)

    def saved_id(self, found: Any, what: str, where: str) -> str:
        """The id of ``found``, the row (or record) listing what was just saved, or the error
        that it was saved but ``where`` does not link to it."""
        if found is None or not found.id:
            raise self._error(NotAsExpected, f"{what} was saved, but {where} lists no link to it")
        return str(found.id)

    def landed_id(self, param: str) -> str | None:
        """A created record's id where the page the form landed on names it (its show page's
        ``?param=``); None on an index, where the caller finds the record by its name."""
        return query_param(self.page.url, param)

    def _submit(self, button: Locator | Target, success: Locator | Target, *, what: str) -> None:
        """Click ``button`` and wait for ``success``, a form error or the login page."""
        self._click(button)
        self._await_outcome(success, what=what)

    def _submit_with_dialogs(self, button: Target, success: Locator | Target, *, what: str, confirm: bool, quote: bool = True) -> None:
        """:meth:`_submit`, answering the dialogs the page shows. ``confirm``: the button asks
        ``confirm()`` first (Activate, Regenerate) and that one confirmation is accepted, once;
        where the button's form (or the button) names its question in ``data-confirm`` (IHP's
        convention), only a confirm() with that text is, else the first confirm(). Any other
        dialog (an alert, a prompt, a leave-page question, another confirmation, before or after
        it; every dialog of a button that asks nothing, such as Generate) is dismissed, never
        answered yes, and when the outcome then does not come, the error says which dialogs
        showed (``PageError.dialogs``). ``quote=False``: their texts are not repeated in the
        error (a page that may show a secret: the key's)."""
        expected = self._confirm_text(button) if confirm else None
        confirmed: list[bool] = []
        refused: list[str] = []

        def answer(dialog: Dialog) -> None:
            asked = confirm and dialog.type == "confirm" and not confirmed
            if asked and (expected is None or norm(dialog.message) == norm(expected)):
                confirmed.append(True)
                with contextlib.suppress(PlaywrightError):
                    dialog.accept()
                return
            kind = "another confirm" if dialog.type == "confirm" and confirm else ("an " if dialog.type[:1] in "aeiou" else "a ") + dialog.type
            refused.append(f"{kind} dialog" + (f" ({_clip(dialog.message)!r})" if quote else ""))
            with contextlib.suppress(PlaywrightError):
                dialog.dismiss()

        self.page.on("dialog", answer)
        try:
            self._submit(button, success, what=what)
        except PageError as exc:
            if refused:
                were = "it was" if len(refused) == 1 else "they were"
                only = "only the button's own confirm() is accepted" if confirm else "the button asks no question"
                exc.message += f"; the page showed {', '.join(refused)}: {were} dismissed ({only})"
                exc.args = (exc.message,)
                exc.dialogs = refused
            raise
        finally:
            self.page.remove_listener("dialog", answer)

    def _confirm_text(self, button: Target) -> str | None:
        """The question the button's ``data-confirm`` (its own, else its form's) names, if any."""
        try:
            found = button.locator.evaluate_all(
                "els => els.length === 1 ? [(els[0].closest('[data-confirm]') || {dataset: {}}).dataset.confirm ?? null] : []"
            )
        except PlaywrightError:
            return None
        return found[0] if found else None

    def _click(self, button: Locator | Target) -> None:
        """Click what sends a request, once; failures seen from here on end the next wait.

        A click is never tried twice (a timeout may come after it was sent: a second one could
        send the form again), so a button is counted before its first click on this page
        object, for the error that says what the screen offers; later clicks of the same
        button (a widget after a widget) wait for it and are strict by themselves.

        Playwright's own click: it waits for the button to be shown, enabled, still (two
        animation frames alike) and the one a mouse would press at its centre, so it never
        clicks what covers it. A page in the background gets no animation frames, so with
        several pages (widgets side by side) the page comes to the front first. (A click
        without that wait, ``force``, made 50 widgets on 4 pages 14 % faster, but a click on a
        covered button then lands on what covers it; looking first costs as much as it saved,
        about 25 ms a page.) A button that is not ready within the timeout: the error says
        what is there instead."""
        target = button if isinstance(button, Target) else None
        if target is not None:
            if target.key not in self._buttons_found:
                self.one(target)
                self._buttons_found.add(target.key)
            button = target.locator
        request_watch(self.page).reset()
        # the client's own list of pages, no round trip
        if len(self.page.context.pages) > 1:
            self.page.bring_to_front()
        try:
            button.click(timeout=self.timeout_s * 1000)
        except PlaywrightTimeoutError:
            if target is None:
                raise
            why = self._pressable(target) or "it did not become ready"
            raise self._error(
                NotAsExpected, f"the {target.describe()} cannot be pressed: {why} (waited {self.timeout_s:g} s for it)", target.text
            ) from None

    def _pressable(self, target: Target) -> str:
        """"" if a mouse pressing the centre of ``target`` would press it (an enabled button of
        its name is there), else what is there instead (for the error of :meth:`_click`: a
        quick look, "" if it cannot be had)."""
        try:
            box = target.locator.bounding_box(timeout=_FIND_MS)
            if box is None:
                return "it is not shown"
            at = self.page.evaluate(_AT_POINT_JS, [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        except PlaywrightError:  # gone meanwhile, or the page changed
            return ""
        if "cover" in at:
            return f"it is covered by {at['cover']}"
        if not tolerant(target.text).match(at["name"]):
            return f"it is covered by another button ({at['name'][:40]!r})"
        return "it is disabled" if at["disabled"] else ""

    def _await_outcome(self, success: Locator | Target, *, what: str) -> None:
        """Wait for ``success``; between slices, look for the other outcomes: a failed request,
        the login page, form errors. The usual case costs one call (one traced action)."""
        target = success if isinstance(success, Target) else None
        success = success.locator if isinstance(success, Target) else success
        watch = request_watch(self.page)
        deadline = time.monotonic() + self.timeout_s
        while True:
            self._check_page(watch, what)  # a page elsewhere may look like the outcome, or the login
            try:
                success.first.wait_for(state="visible", timeout=_SLICE_MS)
            except PlaywrightTimeoutError:
                if self.login_form.is_visible():
                    raise self._error(SessionExpired, f"{what}: Inter-Hub showed the login page; the session has ended")
                errors = self.read_form_errors()
                if errors:
                    self._check_page(watch, what)  # an error page swapped in is the request's
                    raise FormError(errors, screen=self.SCREEN, url=self._relative(self.page.url))
                if target is not None and time.monotonic() >= deadline:
                    raise self._error(
                        NotAsExpected,
                        f"{what}: nothing happened within {self.timeout_s:g} s, or the next screen does not show "
                        + self.missing(target, count=success.count()).message,
                        target.text,
                    )
                self._raise_on_deadline(deadline, what)
                continue
            self._check_page(watch, what)  # a failed request outranks what the page shows
            return

    def _await(
        self,
        outcome: Locator,
        what: str,
        deadline: float | None = None,
        *,
        give_up: Callable[[], bool] | None = None,
        failed_requests: bool = True,
    ) -> bool:
        """Wait until ``outcome`` is visible (True); fail early on a failed request, late on the
        timeout (or at ``deadline``, a ``time.monotonic()`` value, where the wait is part of a
        longer one). ``give_up``, looked at between slices: stop waiting then (False).
        ``failed_requests=False``: a failed request does not end the wait (an operator at the
        controls, who sees the page and may try again), unless a redirect of the base's took
        it elsewhere (:class:`OffTarget`: Inter-Hub sent the browser away, not the operator)."""
        watch = request_watch(self.page)
        deadline = time.monotonic() + self.timeout_s if deadline is None else deadline
        while True:
            self._check_page(watch, what, failed_requests=failed_requests)
            if give_up is not None and give_up():
                return False
            try:
                outcome.wait_for(state="visible", timeout=_SLICE_MS)
            except PlaywrightTimeoutError:
                self._raise_on_deadline(deadline, what)
                continue
            # Chromium's error page may look like the outcome; IHP swaps an error page in where
            # the request failed
            self._check_page(watch, what, failed_requests=failed_requests)
            return True

    def _check_page(self, watch: _RequestWatch, what: str, *, failed_requests: bool = True) -> None:
        """Between the slices of a wait and once its outcome shows, in this order: raise
        :class:`OffTarget` where Inter-Hub sent the browser elsewhere (a redirect of the base's
        refused there, or a page that landed there: nothing is read from it), then
        :class:`RequestFailed` where a request of the page's failed (``failed_requests``)."""
        self._raise_if_redirected(watch, what)
        self.ensure_on_target(what)
        if failed_requests:
            self._raise_failed_request(watch, what)

    def _raise_if_redirected(self, watch: _RequestWatch, what: str) -> None:
        if watch.redirected:
            raise self._error(
                OffTarget, f"{what}: Inter-Hub sent the browser to {watch.redirected[0]}, not to {self.base_url}"
            )

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

    def _choose(self, select: Locator | Target, value: str, field: str | None = None) -> None:
        """Select the option whose value is ``value``, or type ``value`` where the field is a
        text box (IHP's generator renders enum and foreign-key columns with ``textField``: a
        kind, a widget type, a manifest's id); a clear error when there is no such option (or
        no such field: no count goes before it, as with :meth:`_fill_text`)."""
        target = select if isinstance(select, Target) else None
        locator = select.locator if isinstance(select, Target) else select
        field = field or (target.text if target else "select")
        try:
            locator.select_option(value=value, timeout=min(_OPTION_WAIT_MS, self.timeout_s * 1000))
            return
        except PlaywrightTimeoutError:
            pass  # no such option (or no such field): say which options there are
        except PlaywrightError as exc:
            if _NOT_A_SELECT in (exc.message or ""):
                try:
                    locator.fill(value, timeout=self.timeout_s * 1000)  # the text box found is the one field
                except PlaywrightTimeoutError:
                    raise self._error(
                        NotAsExpected, f"the {field} field is a text box that takes no typing (read-only or disabled)", field
                    ) from None
                return
            if "strict mode violation" not in (exc.message or ""):
                raise
        n = locator.count()
        if n != 1 and target is not None:
            raise self.missing(target, count=n) from None
        if not n:
            raise self._error(NotAsExpected, f"the form has no {field} field", field)
        if n > 1:
            raise self._error(NotAsExpected, f"the {field} field matches {n} elements", field)
        options: list[str] = locator.first.evaluate(
            "s => [...s.options].filter(o => !o.disabled && o.hasAttribute('value') && o.value).map(o => o.value)"
        )
        offered = ", ".join(f"{v!r}" for v in options) or "nothing"
        raise self._error(NotAsExpected, f"the {field} field has no option {value!r} (it offers {offered})", field)

    def set_reference(self, field: Target, record_id: str) -> None:
        """Where the form shows the record a new one belongs to (IHP's generated form: a "Hub Id"
        box holding the nil UUID), make it ``record_id``; where it does not (a customised app
        fills it from the address, in a hidden input), nothing to do. Whether the form has it is
        looked at once per page object (a round trip fewer on every next widget)."""
        shown = self._references_shown.get(field.key)
        if shown is None:
            shown = self._references_shown[field.key] = bool(field.locator.count())
        if shown and field.locator.input_value(timeout=self.timeout_s * 1000).lower() != record_id.lower():
            self._choose(field, record_id)

    def fill_form(self, *fields: tuple[Target, str, str]) -> None:
        """Fill a form's ``(field, value, how)`` (``how``: TEXT, CHOICE or REFERENCE) with one call
        to the page where every field is there once and ready as Playwright's fill and
        select_option wait for it (see ``_FILL_FORM_JS``): a widget's form in one call instead of
        five. Otherwise, or where the page did not keep a value, the fields are filled one by one,
        with their waits and their errors (:meth:`fill_field`, :meth:`_choose`,
        :meth:`set_reference`). Either way the trace lists it all under one group, ``Fill
        'Name', 'Title', …``; the one call's parameters name each field and value, and its
        result says whether it filled them."""
        if not fields:
            return
        # [the field's label (for whoever reads the trace), the patterns its locator matches a
        # label with (tolerant: "Hub" and "Hub Id" for a reference), value, how]
        entries = [
            [target.text, [tolerant(t).pattern for t in target.labels or (target.text,)], value, how] for target, value, how in fields
        ]
        tracing = self.page.context.tracing
        tracing.group(f"Fill {', '.join(repr(target.text) for target, _, _ in fields)}")
        try:
            try:
                if self.root.evaluate_all(_FILL_FORM_JS, entries):
                    return
            except PlaywrightError:
                if self.browser_gone():
                    raise
                # the page went away under the call, or this Chromium lacks what it uses: the
                # field-by-field path waits and says what is wrong
            for target, value, how in fields:
                if how == REFERENCE:
                    self.set_reference(target, value)
                elif how == CHOICE:
                    self._choose(target, value)
                else:
                    self._fill_text(target, value)
        finally:
            with contextlib.suppress(PlaywrightError):
                tracing.group_end()

    def fill_field(self, field: Target, value: str) -> None:
        """Fill a text input or textarea found by its label."""
        self._fill_text(field, value)

    def read_form_errors(self) -> list[tuple[str | None, str]]:
        """(field label, message) for each ``invalid-feedback``; (None, text) for error flashes."""
        found: list[list[Any]] = self.page.evaluate(
            """([css, groupCss]) => [...document.querySelectorAll(css)].map(e => {
                if (!e.classList.contains('invalid-feedback')) return [null, e.textContent.trim()];
                const group = e.closest(groupCss);
                const label = group && group.querySelector('label');
                const name = label ? label.textContent.replace(/\\s+/g, ' ').replace(/[\\s*:]+$/, '').trim() : null;
                return [name, e.textContent.trim()];
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
        return _clip(str(texts), 300)

    # -------------------------------------------------------------- reading

    def _evaluate_first(self, scope: Locator | Target, script: str, arg: Any = None) -> Any:
        """``script(element, arg)`` on the first element of ``scope``, in one round trip
        (``locator.first.evaluate`` waits for the element, makes a handle, evaluates and drops the
        handle: three, about 25 ms more on every read). The scope is there when this is called
        (the page has loaded); if it is not, the error says so (for a :class:`Target`, what the
        screen offers instead)."""
        locator = scope.locator if isinstance(scope, Target) else scope
        found = locator.evaluate_all(f"(els, arg) => els.length ? [({script})(els[0], arg)] : []", arg)
        if not found:
            if isinstance(scope, Target):
                raise self.missing(scope, count=0)
            raise self._error(NotAsExpected, "the page has nothing to read: no <main>, no <body>")
        return found[0]

    def read_table(self, table: Locator | Target) -> list[Row]:
        """An index table as rows keyed by (normalised) column header: one round trip, which
        for a :class:`Target` also checks that there is exactly one such table."""
        if not isinstance(table, Target):
            return [Row(r["cells"], r["links"]) for r in table.evaluate(_READ_TABLE_JS)]
        rows = self.read_table_if_there(table)
        if rows is None:
            raise self.missing(table, count=0)
        return rows

    def read_table_if_there(self, table: Target) -> list[Row] | None:
        """:meth:`read_table`, or None where the page has no such table (more than one is an
        error still)."""
        script = _READ_TABLE_JS
        tables: list[list[dict[str, Any]]] = table.locator.evaluate_all(f"ts => ts.map({script})")
        if len(tables) > 1:
            raise self.missing(table, count=len(tables))
        if not tables:
            return None
        return [Row(r["cells"], r["links"]) for r in tables[0]]

    def rows_of(self, rows: list[Row], label: str, record_id: str, slug: str, param: str) -> list[Row]:
        """The rows of the record ``record_id`` (``slug``), by their ``label`` column (see
        :meth:`Row.belongs_to`); a row that column does not tell of is an error, not a guess."""
        mine = []
        for row in rows:
            belongs = row.belongs_to(label, record_id, slug, param)
            if belongs is None:
                raise self._error(
                    NotAsExpected,
                    f"the index's {label} column shows {_clip(row.reference(label) or '')!r}, which the tool cannot tell "
                    f"to be {slug} or not: it reads that column where it gives the {label.lower()}'s id or slug, or links to its "
                    f"page (?{param}=); a row of {slug}'s taken for another's would be created again",
                )
            if belongs:
                mine.append(row)
        return mine

    def read_record(self, scope: Locator | Target | None = None) -> dict[str, str]:
        """A show page's record, label -> value, keyed by the normalised label, whatever holds
        them: table rows (``<th>`` label, ``<td>`` value), ``<dt>``/``<dd>``, or a label element
        (``<strong>``, ``<b>``, ``<label>``) followed by its value."""
        return self._evaluate_first(
            scope or self.root,
            """root => {
                const norm = NORM;
                const text = e => e.textContent.replace(/\\s+/g, ' ').trim();
                const out = {};
                const put = (k, v) => { k = norm(k); if (k && !(k in out)) out[k] = v; };
                root.querySelectorAll('tr').forEach(tr => {
                    const th = tr.querySelector('th'), td = tr.querySelector('td');
                    if (th && td && th.compareDocumentPosition(td) & Node.DOCUMENT_POSITION_FOLLOWING) put(text(th), text(td));
                });
                root.querySelectorAll('dt').forEach(dt => {
                    let dd = dt.nextElementSibling;
                    while (dd && dd.tagName !== 'DD' && dd.tagName !== 'DT') dd = dd.nextElementSibling;
                    if (dd && dd.tagName === 'DD') put(text(dt), text(dd));
                });
                root.querySelectorAll('strong, b, label, .label').forEach(l => {
                    if (l.control || l.closest('form, table, dl, h1, h2, h3, h4, h5, h6')) return;
                    const parent = l.parentElement, own = text(l), all = parent ? text(parent) : '';
                    if (!own || !all.startsWith(own)) return;
                    put(own, all.slice(own.length).trim());
                });
                return out;
            }""".replace("NORM", _NORM_JS)
        )

    def read_blocks(self, headings: list[str]) -> dict[str, str | None]:
        """The text of the block (``<pre>``, ``<code>``) that follows each heading, before the
        next heading, or, where no heading says it, of the ``<dd>`` after the ``<dt>`` that does
        (IHP's generated show page), as it is (not whitespace-collapsed as :meth:`read_record`
        reads it: JSON strings keep their spaces); None where neither is there. One round trip."""
        return self._evaluate_first(
            self.root,
            """(root, wanted) => {
                const norm = NORM;
                const heads = [...root.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading], .card-header')];
                const out = {};
                for (const label of wanted) {
                    out[label] = null;
                    const h = heads.find(e => norm(e.textContent) === norm(label));
                    if (!h) {
                        const dt = [...root.querySelectorAll('dt')].find(e => norm(e.textContent) === norm(label));
                        let dd = dt && dt.nextElementSibling;
                        while (dd && dd.tagName !== 'DD' && dd.tagName !== 'DT') dd = dd.nextElementSibling;
                        if (dd && dd.tagName === 'DD') out[label] = dd.textContent;
                        continue;
                    }
                    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
                    walker.currentNode = h;
                    for (let e = walker.nextNode(); e; e = walker.nextNode()) {
                        if (h.contains(e)) continue;
                        if (heads.includes(e)) break;
                        if (e.tagName === 'PRE' || e.tagName === 'CODE') { out[label] = e.textContent; break; }
                    }
                }
                return out;
            }""".replace("NORM", _NORM_JS),
            headings,
        )

    def record_value(self, record: dict[str, str], texts: type, attr: str, *, required: bool = True) -> str:
        """A value of :meth:`read_record` by the label's text; a missing required label is an
        error that says what the screen offers instead."""
        key = norm(text_of(texts, attr))
        if key not in record and required:
            raise self.missing(self.label(texts, attr), count=0)
        return record.get(key, "")

    def id_from_url(self, param: str) -> str:
        value = query_param(self.page.url, param)
        if not value:
            raise self._error(NotAsExpected, f"the address {self._relative(self.page.url)} carries no {param}")
        return value

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        """The screens of this page object that ``doctor`` can open with the given record ids
        (hub_id, manifest_id, draft_manifest_id, consumer_id), and their locators."""
        return []
