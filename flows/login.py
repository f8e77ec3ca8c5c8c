"""``ihub-bootstrap login``: the operator logs in by hand in a visible browser (password
manager, MFA); the tool saves the session as a Playwright storage state, mode 0600, for later
headless runs (IHUB_STORAGE_STATE)."""

from __future__ import annotations

import json
from pathlib import Path

from flows import hints
from flows.browser import BrowserOptions, BrowserSession, login_attempt
from flows.console import Console
from flows.errors import AuthError, BadInputError, StepFailed
from flows.keysink import check_secret_path, default_key_path, write_private
from flows.settings import MANUAL_LOGIN_S, Settings
from pages.base import OffTarget, PageError, RequestFailed
from pages.hubs import HubsPage, HubsTexts
from pages.login import LoginPage


def default_state_path(base_url: str) -> Path:
    """Outside the repository, per target: ~/.local/share/ihub-bootstrap/sessions/<host>.storage-state.json."""
    keys_of_target = default_key_path(base_url, "any").parent  # .../keys/<host>
    return keys_of_target.parent.parent / "sessions" / f"{keys_of_target.name}.storage-state.json"


def save_storage_state(session: BrowserSession, path: Path) -> None:
    assert session.context is not None
    state = session.context.storage_state()
    write_private(path, json.dumps(state, indent=2) + "\n")


def login_and_save(
    settings: Settings, path: Path, console: Console, *, headed: bool = True, wait_s: float = MANUAL_LOGIN_S, fill=None  # noqa: ANN001
) -> None:
    """Open /NewSession, wait until the operator is logged in, check it, save the state.

    ``fill``, if given, is called with the page before waiting (tests log in through it).
    """
    base = settings.require_base()
    settings.check_transport()
    check_secret_path(path, "--out", replaced=True)
    with BrowserSession(settings, BrowserOptions(headed=headed), mode="manual") as session:
        assert session.page is not None
        login = LoginPage(session.page, base, settings.timeout)
        try:
            login.open()
            console.info(f"Log in to {base} in the browser window (waiting up to {wait_s:g} s) ...")
            if fill is not None:
                fill(session.page)
            with login_attempt(None, login):
                login.await_operator(what="log in by hand", timeout_s=wait_s, admin_path=HubsTexts.INDEX_PATH)
            HubsPage(session.page, base, settings.timeout).list()
        except OffTarget as exc:
            raise BadInputError(
                f"not logged in: {exc.message}", where=f"{base}/NewSession", hint=hints.OFF_TARGET
            ) from None
        except RequestFailed as exc:  # the login page or the hubs index did not open (a wrong base, the network, a 5xx)
            hint = hints.with_proxy_trouble(session.guard.proxy_trouble(), hints.for_failure(exc.message, "login"))
            raise StepFailed(f"not logged in: {exc.message}", where=f"{base}/NewSession", hint=hint) from None
        except PageError as exc:
            raise AuthError(f"not logged in: {exc.message}", where=f"{base}/NewSession", hint="run login again") from None
        save_storage_state(session, path)
    console.info(f"session saved to {path} (mode 0600); use it with IHUB_STORAGE_STATE={path}")
