"""The runbook's UI path as steps, in runbook order: login, hub, manifest, manifest-vocabulary,
activate, api-consumer, api-key, widgets (verify follows, over HTTP).

Each step first *observes* (is it already done? does the live record match the seeds?) and
returns a :class:`Decision`; only ``act`` writes, one :class:`Write` at a time, each approved
first (``--confirm``). ``plan`` runs ``observe`` alone. A re-run after any failure converges
on the seeds: nothing is created twice.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from flows import hints
from flows.errors import AuthError, NeedsDecision, StepFailed
from flows.keysink import KeySink
from flows.known_secrets import KnownSecrets
from flows.seeds import SeedSet
from pages.api_consumers import ApiConsumersPage, ConsumerSummary
from pages.base import FormError, NotAsExpected, PageError, SessionExpired
from pages.hubs import HubDetails, HubsPage, HubSummary
from pages.login import LoginPage
from pages.manifests import ManifestDetails, ManifestsPage, ManifestsTexts
from pages.widgets import WidgetsPage

Action = Literal["create", "update", "none", "drift", "blocked"]
# apply: ok, created, updated, unchanged, skipped; plan: create, update, unchanged; both: drift, blocked, failed
Status = Literal["ok", "created", "updated", "unchanged", "skipped", "create", "update", "drift", "blocked", "failed"]

FRESH_SESSION_HINT = (
    "get a fresh session: `ihub-bootstrap login --base URL` saves a new storage state "
    "(IHUB_STORAGE_STATE), or copy the SESSION cookie of a logged-in browser into IHUB_SESSION_COOKIE"
)


@dataclass(frozen=True)
class Diff:
    field: str
    seed: Any
    live: Any

    def __str__(self) -> str:
        return f"{self.field}: seeds {self.seed!r}, live {self.live!r}"


@dataclass(frozen=True)
class Write:
    """One change to Inter-Hub, described for the operator before it happens. Never a secret."""

    step: str
    action: str
    where: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    action: Action
    detail: str = ""
    writes: list[Write] = field(default_factory=list)
    diffs: list[Diff] = field(default_factory=list)
    # Inferred from an earlier step's state ("the hub is not there yet"), not seen on a page:
    # such a plan decision is always observed again before acting.
    inferred: bool = False


@dataclass
class StepResult:
    name: str
    status: Status
    detail: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    writes: int = 0
    diffs: list[Diff] = field(default_factory=list)
    planned: list[Write] = field(default_factory=list)
    decision: Decision | None = None  # the plan's decision, for the apply phase

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "ids": self.ids,
            "writes": self.writes,
            "diffs": [{"field": d.field, "seed": d.seed, "live": d.live} for d in self.diffs],
            "planned": [{"action": w.action, "where": w.where, "values": w.values} for w in self.planned],
        }


class Approver:
    """Says whether a write may happen. The default approves everything (``--confirm`` asks)."""

    interactive = False

    def approve(self, write: Write) -> bool:
        return True


@dataclass
class Options:
    rotate_key: bool = False
    update: bool = False  # reconcile drifted editable fields
    new_manifest_version: str | None = None


class Run:
    """What the steps share: seeds, pages on one browser page, ids found so far."""

    def __init__(
        self,
        *,
        seeds: SeedSet,
        page: Any,
        base_url: str,
        timeout_s: float,
        sink: KeySink,
        secrets: KnownSecrets,
        approver: Approver,
        options: Options,
        trace: Any = None,
        credentials: tuple[str, str] | None = None,
        manual_login: Any = None,
    ):
        self.seeds = seeds
        self.sink = sink
        self.secrets = secrets
        self.approver = approver
        self.options = options
        self.trace = trace  # a TraceRecorder, or None
        self.credentials = credentials
        self.manual_login = manual_login  # callback telling the operator to log in by hand
        args = (page, base_url, timeout_s)
        self.login_page = LoginPage(*args)
        self.hubs = HubsPage(*args)
        self.manifests = ManifestsPage(*args)
        self.consumers = ApiConsumersPage(*args)
        self.widgets = WidgetsPage(*args)
        self.base_url = base_url
        # found or created so far
        self.hub_list: list[HubSummary] | None = None
        self.hub_id: str | None = None
        self.hub: HubDetails | None = None
        self.manifest: ManifestDetails | None = None
        self.consumer: ConsumerSummary | None = None
        self.api_consumer_id: str | None = None
        self.writes = 0

    @property
    def manifest_version(self) -> str:
        return self.options.new_manifest_version or self.seeds.manifest.version

    def approve(self, write: Write) -> bool:
        return self.approver.approve(write)


# ---------------------------------------------------------------- comparison helpers


def _words(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", camel).lower()


def normalize_text(text: str) -> str:
    return " ".join(text.split())


def _entries(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return [{"invalid": str(value)}]
    out = []
    for entry in value:
        if isinstance(entry, dict):
            out.append({k: str(v) for k, v in entry.items() if not (k == "description" and v == "")})
        else:
            out.append({"invalid": str(entry)})
    return sorted(out, key=lambda e: e.get("key", ""))


def vocabulary_diffs(seed: dict[str, Any], live: dict[str, Any]) -> list[Diff]:
    diffs = []
    for name, seed_value in seed.items():
        want, have = _entries(seed_value), _entries(live.get(name, []))
        if want == have:
            continue
        want_keys = {e.get("key"): e for e in want}
        have_keys = {e.get("key"): e for e in have}
        missing = sorted(k for k in want_keys if k not in have_keys)
        extra = sorted(k for k in have_keys if k not in want_keys)
        changed = sorted(k for k in want_keys if k in have_keys and want_keys[k] != have_keys[k])
        summary = ", ".join(
            part
            for part in (
                f"missing {' '.join(map(str, missing))}" if missing else "",
                f"not in seeds {' '.join(map(str, extra))}" if extra else "",
                f"different {' '.join(map(str, changed))}" if changed else "",
            )
            if part
        )
        diffs.append(Diff(name, f"{len(want)} entries", summary or f"{len(have)} entries, other order or content"))
    return diffs


# ---------------------------------------------------------------- the steps


class Step:
    name = ""
    title = ""  # the runbook's words

    def observe(self, run: Run) -> Decision:
        return Decision("none")

    def act(self, run: Run, decision: Decision) -> StepResult:
        raise NotImplementedError

    def result(self, status: Status, detail: str = "", **ids: str | None) -> StepResult:
        return StepResult(self.name, status, detail, {k: v for k, v in ids.items() if v})

    def settled(self, decision: Decision, **ids: str | None) -> StepResult | None:
        """The result of a decision with nothing to write (unchanged, or drift left alone)."""
        if decision.action not in ("none", "drift"):
            return None
        result = self.result("unchanged" if decision.action == "none" else "drift", decision.detail, **ids)
        result.diffs = decision.diffs
        return result


class LoginStep(Step):
    name = "login"
    title = "Log in to Inter-Hub"

    def act(self, run: Run, decision: Decision) -> StepResult:
        page = run.login_page
        try:
            # Not recorded: the form's POST carries the password (typed by hand, it is a value
            # this tool never learns, so nothing could scrub it from a trace).
            with unrecorded(run):
                if run.credentials is not None:
                    email, password = run.credentials
                    page.log_in(email, password)
                    how = f"logged in as {email} (not recorded in the trace)"
                elif run.manual_login is not None:
                    page.open()
                    run.manual_login()
                    # a mistyped password is the operator's to retry: only success ends the wait
                    page.await_logged_in(what="log in by hand", timeout_s=max(run.hubs.timeout_s, 600), retry_on_error=True)
                    how = "logged in by the operator (not recorded in the trace)"
                else:
                    how = "with the given session"
            # An admin page proves the session before any write; the hub step uses what it lists.
            run.hub_list = run.hubs.list(reuse_open_page=True)
        except SessionExpired:
            raise AuthError(
                "the session is not valid: Inter-Hub shows its login page (expired or wrong session)",
                where=f"step login, {run.base_url}/Hubs",
                hint=FRESH_SESSION_HINT,
            ) from None
        except FormError as exc:
            raise AuthError(
                f"Inter-Hub refused the login: {exc.message}",
                where=f"step login, {exc.url}",
                hint="check IHUB_EMAIL and IHUB_PASSWORD, or use a session (IHUB_SESSION_COOKIE / IHUB_STORAGE_STATE)",
            ) from None
        return self.result("ok", how)


class HubStep(Step):
    name = "hub"
    title = "Create the hub"

    def observe(self, run: Run) -> Decision:
        want = run.seeds.hub
        listed, run.hub_list = run.hub_list or run.hubs.list(), None  # the login's listing, used once
        found = next((h for h in listed if h.slug == want.slug), None)
        if found is None:
            values = {k: v for k, v in want.model_dump().items() if v is not None}
            return Decision("create", "no hub with this slug", [Write(self.name, "create hub", "/Hubs/new", values)])
        run.hub_id = found.id
        run.hub = run.hubs.show(found.id)
        diffs = [
            Diff(attr, getattr(want, attr), live)
            for attr, live in run.hub.values.items()
            if getattr(want, attr, None) is not None and str(getattr(want, attr)) != live
        ]
        if not diffs:
            return Decision("none", f"hub {want.slug} exists and matches the seeds")
        if run.options.update:
            write = Write(self.name, "update hub", f"/EditHub?hubId={found.id}", {d.field: d.seed for d in diffs})
            return Decision("update", "hub differs from the seeds", [write], diffs)
        return Decision(
            "drift",
            "hub differs from the seeds; not changed (pass --update to make it match)",
            diffs=diffs,
        )

    def act(self, run: Run, decision: Decision) -> StepResult:
        if settled := self.settled(decision, hub_id=run.hub_id):
            return settled
        if not run.approve(decision.writes[0]):
            return self.result("skipped", "skipped by the operator")
        want = run.seeds.hub
        if decision.action == "create":
            saved = run.hubs.create(want)
        else:
            assert run.hub_id
            saved = run.hubs.update(run.hub_id, want)
        run.writes += 1
        run.hub_id = saved.id
        # What the page now shows is what was just written; no need to read it back.
        written = {k: str(v) for k, v in want.model_dump().items() if v is not None}
        run.hub = HubDetails(saved.id, written, run.hub.manifests if run.hub is not None else [])
        detail = f"hub {want.slug}"
        if saved.optional_filled:
            detail += f"; VSM fields filled ({', '.join(saved.optional_filled)})"
        if saved.optional_absent:
            detail += "; this Inter-Hub has no VSM fields: the classification stays in the manifest description"
        return self.result("created" if decision.action == "create" else "updated", detail, hub_id=saved.id)


class ManifestStep(Step):
    name = "manifest"
    title = "Create the draft manifest"

    def observe(self, run: Run) -> Decision:
        version = run.manifest_version
        write = Write(
            self.name,
            "create draft manifest",
            "/HubCapabilityManifests/new?hubId=" + (run.hub_id or "<new hub>"),
            {
                "version": version,
                "capabilityDescription": run.seeds.manifest.capability_description,
                "contact": run.seeds.manifest.contact,
            },
        )
        if run.hub is None:
            return Decision("create", "the hub is not there yet", [write], inferred=True)
        found = next((m for m in run.hub.manifests if m.version == version), None)
        if found is None:
            return Decision("create", f"hub has no manifest {version}", [write])
        run.manifest = run.manifests.show(found.id)
        return Decision("none", f"manifest {version} exists ({found.status})")

    def act(self, run: Run, decision: Decision) -> StepResult:
        if decision.action == "none":
            assert run.manifest
            return self.result("unchanged", decision.detail, manifest_id=run.manifest.id)
        if run.hub_id is None:
            return self.result("blocked", "no hub to hold the manifest")
        if not run.approve(decision.writes[0]):
            return self.result("skipped", "skipped by the operator")
        m = run.seeds.manifest
        manifest_id = run.manifests.create(run.hub_id, run.manifest_version, m.capability_description, m.contact)
        run.writes += 1
        run.manifest = ManifestDetails(
            id=manifest_id,
            hub_slug=run.seeds.hub.slug,
            version=run.manifest_version,
            status=ManifestsTexts.DRAFT,
            capability_description=m.capability_description,
            contact=m.contact,
            vocabulary={name: [] for name in ManifestsTexts.VOCABULARY},
        )
        return self.result("created", f"draft manifest {run.manifest_version}", manifest_id=manifest_id)


class VocabularyStep(Step):
    name = "manifest-vocabulary"
    title = "Copy the vocabulary into the manifest"

    def observe(self, run: Run) -> Decision:
        seed = run.seeds.manifest
        want = seed.vocabulary()
        write = Write(
            self.name,
            "save manifest vocabulary",
            "/EditHubCapabilityManifest?hubCapabilityManifestId=" + (run.manifest.id if run.manifest else "<new>"),
            {name: f"{len(entries)} entries: " + ", ".join(str(e.get("key")) for e in entries) for name, entries in want.items()},
        )
        if run.manifest is None:
            return Decision("update", "the manifest is not there yet", [write], inferred=True)
        live = run.manifest
        diffs = vocabulary_diffs(want, live.vocabulary)
        if normalize_text(live.capability_description) != normalize_text(seed.capability_description):
            diffs.append(Diff("capabilityDescription", seed.capability_description, live.capability_description))
        if normalize_text(live.contact) != normalize_text(seed.contact):
            diffs.append(Diff("contact", seed.contact, live.contact))
        if not diffs:
            return Decision("none", "vocabulary matches the seeds")
        if live.status == ManifestsTexts.DRAFT:
            write.values["capabilityDescription"] = seed.capability_description
            write.values["contact"] = seed.contact
            return Decision("update", "draft manifest differs from the seeds", [write], diffs)
        return Decision(
            "drift",
            f"manifest {live.version} is {live.status} and differs from the seeds; Inter-Hub does not change "
            "an active manifest: create a new version with `apply --new-manifest-version X`",
            diffs=diffs,
        )

    def act(self, run: Run, decision: Decision) -> StepResult:
        manifest_id = run.manifest.id if run.manifest else None
        if settled := self.settled(decision, manifest_id=manifest_id):
            return settled
        if manifest_id is None:
            return self.result("blocked", "no manifest to edit")
        if not run.approve(decision.writes[0]):
            return self.result("skipped", "skipped by the operator")
        seed = run.seeds.manifest
        differs = {d.field for d in decision.diffs}  # the form keeps what matches already
        run.manifests.save(
            manifest_id,
            seed.vocabulary(),
            capability_description=seed.capability_description if "capabilityDescription" in differs else None,
            contact=seed.contact if "contact" in differs else None,
        )
        run.writes += 1
        run.manifest = replace(
            run.manifest,  # type: ignore[arg-type]
            vocabulary=seed.vocabulary(),
            capability_description=seed.capability_description,
            contact=seed.contact,
        )
        counts = ", ".join(f"{len(v)} {_words(k.removeprefix('declared'))}" for k, v in seed.vocabulary().items())
        result = self.result("updated", counts, manifest_id=manifest_id)
        result.diffs = decision.diffs
        return result


class ActivateStep(Step):
    name = "activate"
    title = "Activate the manifest"

    def observe(self, run: Run) -> Decision:
        where = "/ShowHubCapabilityManifest?hubCapabilityManifestId=" + (run.manifest.id if run.manifest else "<new>")
        write = Write(self.name, "activate manifest (confirm dialog accepted)", where, {"version": run.manifest_version})
        if run.manifest is None:
            return Decision("update", "the manifest is not there yet", [write], inferred=True)
        if run.manifest.status == ManifestsTexts.DRAFT:
            return Decision("update", "manifest is a draft", [write])
        if run.manifest.status == ManifestsTexts.ACTIVE:
            return Decision("none", f"manifest {run.manifest.version} is active")
        return Decision("blocked", f"manifest {run.manifest.version} is {run.manifest.status} and cannot be activated again: " + version_hint(run))

    def act(self, run: Run, decision: Decision) -> StepResult:
        manifest_id = run.manifest.id if run.manifest else None
        if decision.action == "none":
            return self.result("unchanged", decision.detail, manifest_id=manifest_id)
        if decision.action == "blocked":
            raise NeedsDecision(decision.detail, where=f"step {self.name}")
        if manifest_id is None:
            return self.result("blocked", "no manifest to activate")
        if not run.approve(decision.writes[0]):
            return self.result("skipped", "skipped by the operator")
        run.manifests.activate(manifest_id)  # done once the page shows the status "active"
        run.writes += 1
        run.manifest = replace(run.manifest, status=ManifestsTexts.ACTIVE)  # type: ignore[arg-type]
        return self.result("updated", f"manifest {run.manifest.version} active", manifest_id=manifest_id)


class ApiConsumerStep(Step):
    name = "api-consumer"
    title = "Create the API consumer"

    def observe(self, run: Run) -> Decision:
        want = run.seeds.api_consumer
        bound = f"{run.seeds.hub.slug} {run.manifest_version}"
        write = Write(
            self.name,
            "create API consumer",
            "/ApiConsumers/new",
            {"name": want.name, "description": want.description, "manifest": bound},
        )
        found = run.consumers.find(want.name)
        if found is None:
            return Decision("create", "no consumer with this name", [write])
        run.consumer = found
        run.api_consumer_id = found.id
        diffs = []
        bound_hub = found.manifest.split(" ")[0]
        if bound_hub != run.seeds.hub.slug:
            diffs.append(Diff("manifest", bound, found.manifest))
        if normalize_text(found.description) != normalize_text(want.description):
            diffs.append(Diff("description", want.description, found.description))
        if diffs:
            return Decision(
                "drift",
                "consumer differs from the seeds; not changed (the admin UI has no edit for consumers)",
                diffs=diffs,
            )
        if found.manifest != bound:
            # Same hub, older manifest version: consumers keep their binding when a hub moves
            # to a new manifest version, and the admin UI cannot rebind one. Worth saying, not blocking.
            return Decision("none", f"consumer {want.name} exists, still bound to {found.manifest} (seeds: {bound})")
        return Decision("none", f"consumer {want.name} exists, bound to {bound}")

    def act(self, run: Run, decision: Decision) -> StepResult:
        if settled := self.settled(decision, api_consumer_id=run.api_consumer_id):
            return settled
        if run.manifest is None or run.manifest.status != ManifestsTexts.ACTIVE:
            return self.result("blocked", "no active manifest to bind the consumer to")
        if not run.approve(decision.writes[0]):
            return self.result("skipped", "skipped by the operator")
        want = run.seeds.api_consumer
        consumer_id = run.consumers.create(want.name, want.description, run.manifest.id)
        run.writes += 1
        run.api_consumer_id = consumer_id
        run.consumer = ConsumerSummary(consumer_id, want.name, want.description, "", None)
        return self.result("created", f"consumer {want.name}", api_consumer_id=consumer_id)


class ApiKeyStep(Step):
    name = "api-key"
    title = "Generate the API key"

    def observe(self, run: Run) -> Decision:
        scopes = run.seeds.api_consumer.key_scopes
        consumer = run.consumer
        where = "/ShowApiConsumer?apiConsumerId=" + (run.api_consumer_id or "<new>")
        values = {"scopes": " ".join(scopes), "key sink": run.sink.description}
        generate = [Write(self.name, "generate API key", where, values)]
        if consumer is None:
            return Decision("create", "the consumer is not there yet", generate, inferred=True)
        if consumer.key_prefix is None:
            return Decision("create", "the consumer has no key", generate)
        regenerate = Write(
            self.name, "regenerate API key (revokes the current one)", where, {**values, "current key": f"{consumer.key_prefix}…"}
        )
        stored = run.sink.load(consumer.id)
        if stored is not None:
            run.secrets.add(stored.api_key)
        held = stored is not None and stored.matches(consumer.key_prefix)
        if run.options.rotate_key:
            return Decision("update", "--rotate-key", [regenerate])
        if not held:
            return Decision(
                "blocked",
                f"the consumer has a key ({consumer.key_prefix}…) that {run.sink.description} does not hold: "
                "nobody has it (lost after it was created?)",
                [regenerate],
            )
        details = run.consumers.show(consumer.id)
        if details.key_scopes and sorted(details.key_scopes) != sorted(scopes):
            return Decision(
                "drift",
                "the key's scopes differ from the seeds; pass --rotate-key for a key with the seeded scopes",
                diffs=[Diff("keyScopes", " ".join(scopes), " ".join(details.key_scopes))],
            )
        return Decision("none", f"key {consumer.key_prefix}… held in {run.sink.description}")

    def act(self, run: Run, decision: Decision) -> StepResult:
        consumer_id = run.api_consumer_id
        if settled := self.settled(decision, api_consumer_id=consumer_id):
            return settled
        if consumer_id is None:
            return self.result("blocked", "no consumer to hold the key")
        if decision.action == "blocked":
            # A key nobody holds: only --rotate-key or the operator's yes at the prompt replaces it.
            if not (run.approver.interactive and run.approve(decision.writes[0])):
                raise NeedsDecision(
                    decision.detail,
                    where=f"step {self.name}, consumer {run.seeds.api_consumer.name}",
                    hint="re-run with --rotate-key to revoke it and store a new key in the sink "
                    "(or --confirm to decide at the prompt); if the key is in another sink, pass that --key-sink",
                )
        elif not run.approve(decision.writes[0]):
            return self.result("skipped", "skipped by the operator")
        replace = decision.action != "create"
        key = self._generate(run, consumer_id, replace)
        run.writes += 1
        prefix = key[:8]
        del key
        verb = "regenerated" if replace else "generated"
        return self.result("created", f"key {prefix}… {verb}, stored in {run.sink.description}", api_consumer_id=consumer_id)

    @staticmethod
    def _generate(run: Run, consumer_id: str, replace: bool) -> str:
        """The key's one appearance: not recorded in the trace, straight into the sink.

        Whatever happens while it is on screen, the key is registered as a secret (if it can
        be read at all) and the page is left before recording resumes or a failure screenshot
        is taken.
        """
        pages = run.consumers
        pages.show(consumer_id)
        pages.open_key_form(run.seeds.api_consumer.key_scopes)
        with unrecorded(run):
            try:
                key = pages.reveal_key(replace_existing=replace)
                run.secrets.add(key)
                try:
                    run.sink.store(consumer_id, run.seeds.api_consumer.name, key)
                except Exception as exc:  # noqa: BLE001  (any sink failure: the key exists and nobody holds it)
                    raise StepFailed(
                        f"the API key was generated but could not be stored in {run.sink.description} "
                        f"({exc.__class__.__name__})",
                        where=f"step api-key, key sink {run.sink.description}",
                        hint="fix the key sink, then run `apply --rotate-key`: it revokes the lost key and stores a new one",
                    ) from None
            finally:
                run.secrets.add(pages.key_on_screen())
                pages.leave_key_page()
        return key


def version_hint(run: Run) -> str:
    """What to change after `--new-manifest-version X`: the seed's version line, exactly."""
    active = [m.version for m in (run.hub.manifests if run.hub else []) if m.status == ManifestsTexts.ACTIVE]
    file = run.seeds.manifest_file
    line = next((i for i, text in enumerate(file.read_text(encoding="utf-8").splitlines(), 1) if '"version"' in text), None)
    at = f"{file}, line {line}" if line else str(file)
    if active:
        return (f"manifest {active[0]} is the active one (made with --new-manifest-version?): set \"version\": "
                f"\"{active[0]}\" in {at} ($.version), or pass --new-manifest-version X for a newer one")
    return f"give the seeds a new version in {at} ($.version), or pass --new-manifest-version X"


def unrecorded(run: Run) -> contextlib.AbstractContextManager[None]:
    """Leave what happens inside out of the trace (when there is one)."""
    return run.trace.paused() if run.trace is not None else contextlib.nullcontext()


class WidgetsStep(Step):
    name = "widgets"
    title = "Seed the widgets"

    def observe(self, run: Run) -> Decision:
        where = "/Widgets/new?hubId=" + (run.hub_id or "<new hub>")

        def write(w: Any) -> Write:
            return Write(self.name, f"create widget {w.name}", where, {"name": w.name, "title": w.title, "type": w.type, "config": w.config})

        if run.hub_id is None:
            return Decision("create", "the hub is not there yet", [write(w) for w in run.seeds.widgets], inferred=True)
        live = {w.name: w for w in run.widgets.list(run.hub_id)}
        missing = [w for w in run.seeds.widgets if w.name not in live]
        diffs = [
            Diff(f"{w.name}.{attr}", getattr(w, attr), getattr(live[w.name], attr))
            for w in run.seeds.widgets
            if w.name in live
            for attr in ("title", "type")
            if getattr(w, attr) != getattr(live[w.name], attr)
        ]
        if missing:
            detail = f"{len(missing)} of {len(run.seeds.widgets)} widgets missing"
            return Decision("create", detail, [write(w) for w in missing], diffs)
        if diffs:
            return Decision("drift", "widgets differ from the seeds; not changed", diffs=diffs)
        return Decision("none", f"all {len(run.seeds.widgets)} widgets exist")

    def act(self, run: Run, decision: Decision) -> StepResult:
        if settled := self.settled(decision, hub_id=run.hub_id):
            return settled
        if run.hub_id is None:
            return self.result("blocked", "no hub to hold the widgets")
        by_name = {w.name: w for w in run.seeds.widgets}
        created, skipped = [], []
        for write in decision.writes:
            widget = by_name[write.values["name"]]
            if not run.approve(write):
                skipped.append(widget.name)
                continue
            run.widgets.create(run.hub_id, widget)
            run.writes += 1
            created.append(widget.name)
        status: Status = "created" if created else "skipped"
        detail = f"{len(created)} created" + (f", {len(skipped)} skipped" if skipped else "")
        result = self.result(status, detail, hub_id=run.hub_id)
        result.diffs = decision.diffs
        return result


STEPS: list[Step] = [
    LoginStep(),
    HubStep(),
    ManifestStep(),
    VocabularyStep(),
    ActivateStep(),
    ApiConsumerStep(),
    ApiKeyStep(),
    WidgetsStep(),
]


def page_failure(step: Step, exc: PageError) -> StepFailed | AuthError:
    """A page error as an operator reads it: step, screen, field, the page's own message."""
    where = f"step {step.name}, screen {exc.screen}, {exc.url}"
    if exc.field:
        where += f", field {exc.field!r}"
    if isinstance(exc, SessionExpired):
        return AuthError(f"the session ended during step {step.name}: {exc.message}", where=where, hint=FRESH_SESSION_HINT)
    if isinstance(exc, FormError):
        hint = "fix the seed value the page refused (or the live record it conflicts with), then run apply again"
    elif isinstance(exc, NotAsExpected):
        hint = hints.DOCTOR
    else:
        hint = hints.for_failure(exc.message)
    return StepFailed(f"{step.title} failed: {exc.message}", where=where, hint=hint)
