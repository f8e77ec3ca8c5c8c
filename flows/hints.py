"""What to do next, fitted to what failed: a wrong base answers 404, a TLS error needs a CA
bundle, a refused connection needs the address or the network checked, a page that lacks an
element needs ``doctor``; only a transient failure is fixed by running the command again."""

from __future__ import annotations

import re

_ELEMENT = re.compile(r"waiting for (.+?)(?:\s+to be \w+)?$", re.MULTILINE)
_TLS = ("ERR_CERT", "ERR_SSL", "CERTIFICATE_VERIFY_FAILED", "SSL:", "certificate")
_UNREACHABLE = ("ERR_CONNECTION_REFUSED", "ERR_NAME_NOT_RESOLVED", "ERR_ADDRESS_UNREACHABLE", "ERR_PROXY", "ERR_TUNNEL",
                "ERR_INTERNET_DISCONNECTED", "ERR_CONNECTION_TIMED_OUT", "Connection refused", "Name or service not known")
DOCTOR = "the admin UI may have changed: `ihub-bootstrap doctor` shows which screen and element no longer match"
# a step's page lacks what its page object looks for
UI_CHANGED = (
    "run `ihub-bootstrap doctor`: it lists, for every element the tool cannot find, what the screen offers "
    "and the ui-texts key to set; put that in a --ui-texts file (`ihub-bootstrap ui-texts` prints the defaults)"
)
# Inter-Hub sent the browser to another origin
OFF_TARGET = "check IHUB_BASE (the exact scheme, host and port Inter-Hub answers on, after its redirects)"
# the corporate proxy would not relay the browser's request to the base
CORPORATE_PROXY = (
    "check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (an http:// proxy; a user name and password in it, percent-encoded, are "
    "sent as Basic authentication, the only kind the tool speaks: for NTLM or Kerberos, point it at a local proxy "
    "that authenticates, such as cntlm or px) and that the proxy lets the base through"
)
DIALOG = (
    "the page asked something the runbook does not (a dialog, dismissed; `doctor` cannot see dialogs): see that screen "
    "in a headed run (`apply --headed`) or in the browser; if Inter-Hub asks it on purpose now, report it, since "
    "ihub-bootstrap answers yes only to the button's own confirmation; else run apply again"
)


def _joined(*hints: str | None) -> str | None:
    return "; ".join(h for h in hints if h) or None


def with_proxy_trouble(trouble: str | None, hint: str | None) -> str | None:
    """``hint``, after what the corporate proxy refused or could not be reached for, if anything."""
    return _joined(f"{trouble}: {CORPORATE_PROXY}", hint) if trouble is not None else hint


def with_refused(refused: str | None, hint: str | None) -> str | None:
    """``hint``, then the origin a page asked for and the origin guard refused, if any: beside a
    failure a missing script or style could cause, not as its cause."""
    if refused is None:
        return hint
    return _joined(hint, (
        f"Inter-Hub's pages also asked for {refused}, another origin, which the tool refuses (an image, stylesheet, "
        "script, frame or beacon of their own); if a page needs it, that may be why"
    ))


def again(command: str) -> str:
    return f"run {command} again" + (": finished steps are kept, nothing is created twice" if command == "apply" else "")


def for_command(hint: str | None, command: str) -> str | None:
    """A hint written for apply, said for ``command`` (plan writes nothing, so keeps nothing)."""
    if hint is None or command == "apply":
        return hint
    return hint.replace(": finished steps are kept, nothing is created twice", "").replace(
        "run apply again", f"run {command} again"
    )


def for_failure(message: str, command: str = "apply") -> str:
    """The next step for a failed request or browser action, from its message."""
    if " 404" in message or "HTTP 404" in message:
        return ("the server answered 404 Not Found: check IHUB_BASE / --base, it must be the Inter-Hub base URL "
                "(the one whose /NewSession is the admin login)")
    if any(t in message for t in _TLS):
        return ("the TLS certificate is not trusted: if a corporate proxy or CA signs it, set IHUB_CA_BUNDLE to a PEM "
                "file of that CA; otherwise check IHUB_BASE")
    if any(t in message for t in _UNREACHABLE):
        return ("Inter-Hub cannot be reached: check IHUB_BASE, the network, and HTTPS_PROXY / HTTP_PROXY / NO_PROXY if a proxy is "
                f"needed; then {again(command)}")
    if "Timeout" in message and "waiting for" in message:
        return DOCTOR
    return f"{again(command)} once Inter-Hub answers normally"


def element(message: str) -> str | None:
    """The locator a Playwright timeout waited for (from its call log), if it says."""
    match = _ELEMENT.search(message)
    return match.group(1).strip() if match else None
