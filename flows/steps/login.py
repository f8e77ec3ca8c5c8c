"""Step 1, login: /NewSession (email and password), an operator's hand, or a given session.
Proved by an admin page (the hubs index, which the hub step then reads from this
observation instead of loading it again)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from flows.errors import AuthError
from flows.browser import login_attempt
from flows.seeds import SeedSet
from flows.settings import MANUAL_LOGIN_S
from flows.steps.base import FRESH_SESSION_HINT, Action, Decision, Observation, Observations, Options, Run, Status, Step, StepResult
from pages.base import FormError, SessionExpired
from pages.hubs import HubsTexts


class HubRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    name: str
    slug: str
    domain: str
    kind: str


class LoginObservation(Observation):
    step: str = "login"
    # The hubs index the login landed on: for the hub step, not part of a saved plan.
    hubs: list[HubRow] = Field(default_factory=list, exclude=True)
    COMPARED = ()  # how one logged in is no state of Inter-Hub


class LoginStep(Step[LoginObservation]):
    name = "login"
    title = "Log in to Inter-Hub"
    observation = LoginObservation
    settled_status = Status.OK

    def observe(self, run: Run, seen: Observations) -> LoginObservation:
        """Logging in submits the login form, the one form a plan submits; nothing in Inter-Hub changes."""
        page = run.login_page
        try:
            # Not recorded: the form's POST carries the password (typed by hand, it is a value
            # this tool never learns, so nothing could scrub it from a trace); the page is left
            # or its password emptied before recording resumes.
            how = run.session_how
            if run.credentials is not None or run.manual_login is not None:
                with login_attempt(run.trace, page):
                    if run.credentials is not None:
                        email, password = run.credentials
                        page.log_in(email, password)
                        how = f"logged in as {email} (not recorded in the trace)"
                    else:
                        page.open()
                        wait_s = max(run.hubs.timeout_s, MANUAL_LOGIN_S)
                        run.manual_login(wait_s)
                        # a mistyped password or code is the operator's to retry: the wait ends on
                        # success, a redirect of Inter-Hub's elsewhere, its deadline or Ctrl-C
                        page.await_operator(
                            what="log in by hand", timeout_s=wait_s, admin_path=HubsTexts.INDEX_PATH
                        )
                        how = "logged in by the operator (not recorded in the trace)"
            if run.trace is not None:
                run.trace.begin()  # from here on, whether or not this run logged in
            # An admin page proves the session before any write; the hub step uses what it lists.
            listed = run.hubs.list(reuse_open_page=True)
        except SessionExpired:
            raise AuthError(
                "the session is not valid: Inter-Hub shows its login page (expired or wrong session)",
                where=f"step login, {run.base_url}{HubsTexts.INDEX_PATH}",
                hint=FRESH_SESSION_HINT,
            ) from None
        except FormError as exc:
            raise AuthError(
                f"Inter-Hub refused the login: {exc.message}",
                where=f"step login, {exc.url}",
                hint="check IHUB_EMAIL and IHUB_PASSWORD, or use a session (IHUB_SESSION_COOKIE / IHUB_STORAGE_STATE)",
            ) from None
        rows = [HubRow(id=h.id, name=h.name, slug=h.slug, domain=h.domain, kind=h.kind) for h in listed]
        return LoginObservation(seen=how, hubs=rows)

    def decide(self, observation: LoginObservation, seeds: SeedSet, options: Options) -> Decision:
        return Decision(Action.NONE, observation.seen)

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        return self.result(Status.OK, decision.detail), None
