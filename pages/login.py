"""The login screen, /NewSession: IHP's login form (placeholders, no labels)."""

from __future__ import annotations

from pages.base import AdminPage, FormError, Ihp, Screen, Target, key_of, tolerant


class LoginTexts:
    UI_TEXTS_SECTION = "login"
    # the path and the password placeholder are the layout's (Ihp): every page looks for them
    EMAIL_PLACEHOLDER = "E-Mail"
    LOGIN_BUTTON = "Login"
    LOGOUT_BUTTON = "Logout"  # in the navigation bar of every admin page once logged in


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
        self.logout_button = self.page.get_by_role("button", name=logout).or_(self.page.get_by_role("link", name=logout)).first
        # Logged in: a Logout control shows, or, where none does (IHP's generated layout has
        # none until one is added; a customised one may word it otherwise or keep it in a closed
        # menu), the login form is gone: a page with no password box. (The login step proves
        # the session with an admin page right after.)
        no_password_box = self.page.locator("body").filter(has_not=self.page.locator("input[type=password]"))
        self.logged_in = self.logout_button.or_(no_password_box).first

    def open(self) -> None:
        self._open(Ihp.LOGIN_PATH)

    def log_in(self, email: str, password: str) -> None:
        """Fill and send the form; raise :class:`FormError` with the page's message on failure."""
        self.open()
        self.ensure_on_target("log in")
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

    def await_logged_in(self, *, what: str, timeout_s: float | None = None, retry_on_error: bool = False) -> None:
        """Wait until an admin page shows (by the tool's submit or an operator's hand).

        The login form stays on screen on failure, so the error flash or a logged-in page
        (:attr:`logged_in`) are the outcomes; with ``retry_on_error`` (an operator typing) only
        the latter is.
        """
        if timeout_s is not None:
            saved, self.timeout_s = self.timeout_s, timeout_s
        try:
            errors = self.page.locator(Ihp.FORM_ERROR_CSS)
            self._await(self.logged_in if retry_on_error else self.logged_in.or_(errors).first, what)
            if not retry_on_error and errors.count():
                raise FormError([(None, errors.first.inner_text().strip())], screen=self.SCREEN, url=self.path)
        finally:
            if timeout_s is not None:
                self.timeout_s = saved

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = LoginTexts
        fields = {
            "email": Target("field", t.EMAIL_PLACEHOLDER, self.email, key_of(t, "EMAIL_PLACEHOLDER")),
            "password": Target("field", Ihp.LOGIN_PASSWORD_PLACEHOLDER, self.password, key_of(Ihp, "LOGIN_PASSWORD_PLACEHOLDER")),
            "login button": self.button(t, "LOGIN_BUTTON"),
        }
        return [Screen("login form", Ihp.LOGIN_PATH, fields)]
