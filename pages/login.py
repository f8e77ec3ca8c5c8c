"""The login screen, /NewSession: IHP's login form (placeholders, no labels)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Literal

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from pages.base import PROBE_HEADER, AdminPage, FormError, Ihp, Screen, Target, key_of, request_watch, tolerant


class LoginTexts:
    UI_TEXTS_SECTION = "login"
    # the path and the password placeholder are the layout's (Ihp): every page looks for them
    EMAIL_PLACEHOLDER = "E-Mail"
    LOGIN_BUTTON = "Login"
    LOGOUT_BUTTON = "Logout"  # in the navigation bar of every admin page once logged in


# How ``url`` answers the page's session, its redirect not followed: "in" (it opens), "out" (a
# redirect, to the login page or a step before it, or a refusal) or "unknown" (no answer: a failed
# request, a server error; worth asking again).
_ADMITS_JS = """async ([url, header, timeoutMs]) => {
    if (location.origin !== new URL(url).origin) return 'out';
    try {
        const r = await fetch(url, {
            redirect: 'manual', credentials: 'same-origin', cache: 'no-store', headers: {[header]: '1'},
            signal: AbortSignal.timeout(timeoutMs),
        });
        await r.arrayBuffer();  // read to its end: the request is over before its timer is
        if (r.type === 'opaqueredirect' || (r.status >= 300 && r.status < 500)) return 'out';
        return r.ok ? 'in' : 'unknown';
    } catch (e) {
        return 'unknown';
    }
}"""
# Asking again after no answer: after this long, doubling up to the last.
_ASK_AGAIN_S = (1.0, 2.0, 4.0, 8.0, 16.0)
Answer = Literal["in", "out", "unknown"]


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value); a little more than none."""
    return max(deadline - time.monotonic(), 0.001)


class LoginPage(AdminPage):
    SCREEN = "login (/NewSession)"

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        t = LoginTexts
        self.email = self.page.get_by_placeholder(t.EMAIL_PLACEHOLDER, exact=True)
        self.password = self.page.get_by_placeholder(Ihp.LOGIN_PASSWORD_PLACEHOLDER, exact=True)
        self.login_button = self.button(t, "LOGIN_BUTTON").locator
        # anywhere on the page (navigation bars included), a button or IHP's js-delete link; the
        # first one: it only says "logged in"
        logout = tolerant(t.LOGOUT_BUTTON)
        self.logout_button = (
            self.page.get_by_role("button", name=logout).or_(self.page.get_by_role("link", name=logout)).filter(visible=True).first
        )
        # Logged in: a Logout control shows, or, where none does (IHP's generated layout has
        # none until one is added; a customised one may word it otherwise or keep it in a closed
        # menu), the login form is gone: a page with no password box (see await_logged_in and
        # await_operator).
        # Visible ones only: an `or` lists its matches in document order, <body> first.
        self.password_boxes = self.page.locator("input[type=password]")
        no_password_box = self.page.locator("body").filter(has_not=self.password_boxes)
        self.logged_in = self.logout_button.or_(no_password_box).filter(visible=True).first

    def open(self) -> None:
        self._open(Ihp.LOGIN_PATH)

    def log_in(self, email: str, password: str) -> None:
        """Fill and send the form; raise :class:`FormError` with the page's message on failure."""
        self.open()  # on the base's origin, or an error (see _open)
        self.email.fill(email)
        self.password.fill(password)
        self._click(self.login_button)
        self.await_logged_in(what="log in")

    def forget_password(self, *, leave: bool) -> None:
        """After a login attempt: leave the page (``leave``: the attempt failed, the form may
        still hold the password or a request may still be under way) or empty every password
        field, so that no later screenshot or DOM snapshot holds what was typed."""
        if leave:
            self.page.goto("about:blank")
            return
        self.page.evaluate(
            "() => document.querySelectorAll('input[type=password]').forEach(i => { i.value = ''; })"
        )

    @contextlib.contextmanager
    def _waiting(self, timeout_s: float | None) -> Iterator[float]:
        """``timeout_s`` (else the page's own) as this page's timeout for the time of a wait
        (its errors name it); yields the wait's deadline, one for all its rounds."""
        saved = self.timeout_s
        if timeout_s is not None:
            self.timeout_s = timeout_s
        try:
            yield time.monotonic() + self.timeout_s
        finally:
            self.timeout_s = saved

    def await_logged_in(self, *, what: str, timeout_s: float | None = None) -> None:
        """Wait until the tool's own submit of the login form is done. The login form stays on
        screen on failure, so the error flash or a logged-in page (:attr:`logged_in`) are the
        outcomes; a page without a password box counts once it has loaded (a native submit's
        next page may show before its form does)."""
        errors = self.page.locator(Ihp.FORM_ERROR_CSS)
        with self._waiting(timeout_s) as deadline:
            while True:
                self._await(self.logged_in.or_(errors).first, what, deadline)
                if errors.count():
                    raise FormError([(None, errors.first.inner_text().strip())], screen=self.SCREEN, url=self.path)
                if self.logout_button.count():
                    return
                self._await_loaded(what, deadline)
                if not self.password_boxes.count():
                    return
                # the login form after all: its error, or the next page, within what is left
                self._raise_on_deadline(deadline, what)

    def await_operator(self, *, what: str, timeout_s: float, admin_path: str) -> None:
        """Wait until an operator has logged in by hand, within ``timeout_s``. An operator may
        retry and may pass a second factor on pages without a password box, so neither the
        form's error nor a failed request (a mistyped code answered 422, a page opened by
        mistake) ends the wait: a Logout control does, or a page without a password box once
        ``admin_path`` (an admin page) opens with the browser's session (see
        :meth:`_await_operator`; each check within the page's own timeout)."""
        ask_s = self.timeout_s
        with self._waiting(timeout_s) as deadline:
            self._await_operator(what, deadline, admin_path, ask_s=ask_s)

    def _await_operator(self, what: str, deadline: float, admin_path: str, ask_s: float) -> None:
        """An operator's login, done when a Logout control shows, or (a layout without one on
        screen: IHP's generated layout, a customised one's closed account menu) on a loaded page
        without a password box once ``admin_path`` opens with the browser's session, as it is, not
        redirected (:meth:`admits`, each answer within ``ask_s``). A page between (a second
        factor's, which has no password box either, and whose session an admin page redirects)
        is waited through: the session is asked again after each next page the operator is shown
        (a navigation, the address bar's change included), and, after no answer at all, again
        after a while."""
        main = self.page.main_frame
        shown = [0]  # pages the operator was shown since the wait began

        def navigated(frame) -> None:  # noqa: ANN001
            if frame == main:
                shown[0] += 1

        self.page.on("framenavigated", navigated)
        try:
            unanswered = 0
            while True:
                self._await(self.logged_in, what, deadline, failed_requests=False)
                if self.logout_button.count():
                    return
                self._await_loaded(what, deadline)  # a native submit's next page may show before its form does
                if self.password_boxes.count():
                    continue  # the login form after all
                asked_on = shown[0]
                answer = self.admits(admin_path, timeout_s=min(ask_s, _left(deadline)))
                if answer == "in":
                    return
                again = None  # "out": not in yet; the next page
                if answer == "unknown":
                    again = time.monotonic() + _ASK_AGAIN_S[min(unanswered, len(_ASK_AGAIN_S) - 1)]
                    unanswered += 1
                else:
                    unanswered = 0

                def moved_on() -> bool:  # the next page, or time to ask again
                    return shown[0] != asked_on or (again is not None and time.monotonic() >= again)

                if self._await(self.logout_button, what, deadline, give_up=moved_on, failed_requests=False):
                    return
                if shown[0] != asked_on:
                    unanswered = 0
        finally:
            self.page.remove_listener("framenavigated", navigated)
            request_watch(self.page).reset()  # the operator's failed requests end nothing later either

    def _await_loaded(self, what: str, deadline: float) -> None:
        """The page's document has loaded (domcontentloaded), by ``deadline``."""
        try:
            self.page.wait_for_load_state("domcontentloaded", timeout=_left(deadline) * 1000)
        except PlaywrightTimeoutError:
            self._raise_on_deadline(deadline, what)

    def admits(self, path: str, *, timeout_s: float) -> Answer:
        """How ``path`` (an admin page) answers the browser's session: "in" (a 2xx, whatever it
        shows), "out" (a redirect: to the login page, or to a step before it such as a second
        factor's; a refusal) or "unknown" (no answer within ``timeout_s``, a server error, the
        page moved on meanwhile). The page on screen asks, as its own scripts would (the
        session's cookie, the browser's network, proxy settings and origin guard), and is left as
        it is; the request is marked (:data:`PROBE_HEADER`) so that its outcome is not taken for
        the page's."""
        try:
            answer = self.page.evaluate(_ADMITS_JS, [self.base_url + path, PROBE_HEADER, timeout_s * 1000])
        except PlaywrightError:
            return "unknown"
        return answer if answer in ("in", "out") else "unknown"

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = LoginTexts
        fields = {
            "email": Target("field", t.EMAIL_PLACEHOLDER, self.email, key_of(t, "EMAIL_PLACEHOLDER")),
            "password": Target("field", Ihp.LOGIN_PASSWORD_PLACEHOLDER, self.password, key_of(Ihp, "LOGIN_PASSWORD_PLACEHOLDER")),
            "login button": self.button(t, "LOGIN_BUTTON"),
        }
        return [Screen("login form", Ihp.LOGIN_PATH, fields)]
