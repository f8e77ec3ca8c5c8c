"""Each step's ``decide()`` on observations, without a browser: every action of every step,
drift and blocked; and the saved plan's seal and staleness checks. Pure functions, so these
run in milliseconds."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from flows.errors import ExitCode, StalePlan
from flows.known_secrets import KnownSecrets
from flows.plan import build_plan, check_context, check_observations, differences, load_plan, save_plan
from flows.seeds import load_seeds
from flows.steps import (
    Action,
    ActivateObservation,
    ActivateStep,
    ApiConsumerObservation,
    ApiConsumerStep,
    ApiKeyObservation,
    ApiKeyStep,
    HubObservation,
    HubStep,
    LoginObservation,
    LoginStep,
    ManifestObservation,
    ManifestRef,
    ManifestStep,
    Options,
    StepResult,
    VocabularyObservation,
    VocabularyStep,
    WidgetRow,
    WidgetsObservation,
    WidgetsStep,
)

SEEDS = load_seeds()
HUB_ID = "11111111-1111-4111-8111-111111111111"
MANIFEST_ID = "22222222-2222-4222-8222-222222222222"
CONSUMER_ID = "33333333-3333-4333-8333-333333333333"
SCOPES = SEEDS.api_consumer.key_scopes
NO = Options()


def hub_seen(**fields: str) -> HubObservation:
    live = {"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.coulomb.social", "kind": "domain", **fields}
    return HubObservation(slug="ops-hub", found=True, hub_id=HUB_ID, fields=live, manifests=[ManifestRef(id=MANIFEST_ID, version="1.0", status="active")])


# ---------------------------------------------------------------- login, hub


def test_login_has_nothing_to_decide() -> None:
    decision = LoginStep().decide(LoginObservation(seen="with the given session"), SEEDS, NO)
    assert decision.action == Action.NONE and decision.writes == []


def test_hub_create_writes_every_seeded_field() -> None:
    decision = HubStep().decide(HubObservation(slug="ops-hub"), SEEDS, NO)
    assert decision.action == Action.CREATE
    (write,) = decision.writes
    assert write.where == "/Hubs/new"
    assert write.values == {"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.coulomb.social", "kind": "domain",
                            "hub_family": "vsm", "vsm_function": "OPS", "vsm_system": "S1"}


def test_hub_unchanged_drift_and_update() -> None:
    step = HubStep()
    assert step.decide(hub_seen(), SEEDS, NO).action == Action.NONE
    drift = step.decide(hub_seen(domain="ops.example.org"), SEEDS, NO)
    assert drift.action == Action.DRIFT and drift.writes == [] and "--update" in drift.detail
    assert [(d.field, d.seed, d.live) for d in drift.diffs] == [("domain", "ops.coulomb.social", "ops.example.org")]
    update = step.decide(hub_seen(domain="ops.example.org"), SEEDS, Options(update=True))
    assert update.action == Action.UPDATE
    (write,) = update.writes
    assert write.where == f"/EditHub?hubId={HUB_ID}" and write.values == {"domain": "ops.coulomb.social"}  # only what differs


def test_hub_vsm_fields_are_compared_where_the_page_has_them() -> None:
    decision = HubStep().decide(hub_seen(vsm_system="S2"), SEEDS, NO)
    assert decision.action == Action.DRIFT and [d.field for d in decision.diffs] == ["vsm_system"]


# ---------------------------------------------------------------- manifest, vocabulary, activate


def test_manifest_create_none_and_inferred() -> None:
    step = ManifestStep()
    inferred = step.decide(ManifestObservation(version="1.0", inferred=True, seen="the hub is not there yet"), SEEDS, NO)
    assert inferred.action == Action.CREATE and inferred.writes[0].where == "/HubCapabilityManifests/new?hubId=<new hub>"
    missing = step.decide(ManifestObservation(version="1.1", hub_id=HUB_ID), SEEDS, Options(new_manifest_version="1.1"))
    assert missing.action == Action.CREATE
    assert missing.writes[0].where == f"/HubCapabilityManifests/new?hubId={HUB_ID}"
    assert missing.writes[0].values == {"version": "1.1", "capabilityDescription": SEEDS.manifest.capability_description, "contact": SEEDS.manifest.contact}
    found = step.decide(ManifestObservation(version="1.0", hub_id=HUB_ID, found=True, manifest_id=MANIFEST_ID, status="draft", seen="x"), SEEDS, NO)
    assert found.action == Action.NONE and found.writes == []


def vocabulary_seen(status: str = "draft", **changes: object) -> VocabularyObservation:
    fields = {"capability_description": SEEDS.manifest.capability_description, "contact": SEEDS.manifest.contact,
              "vocabulary": copy.deepcopy(SEEDS.manifest.vocabulary()), **changes}
    return VocabularyObservation(version="1.0", manifest_id=MANIFEST_ID, status=status, **fields)


def test_vocabulary_writes_the_exact_lists() -> None:
    step = VocabularyStep()
    inferred = step.decide(VocabularyObservation(version="1.0", inferred=True), SEEDS, NO)
    assert inferred.action == Action.UPDATE and inferred.writes[0].values == SEEDS.manifest.vocabulary()
    empty = step.decide(vocabulary_seen(vocabulary={k: [] for k in SEEDS.manifest.vocabulary()}), SEEDS, NO)
    assert empty.action == Action.UPDATE and empty.writes[0].where == f"/EditHubCapabilityManifest?hubCapabilityManifestId={MANIFEST_ID}"
    assert "contact" not in empty.writes[0].values  # what matches is not written
    assert step.decide(vocabulary_seen(), SEEDS, NO).action == Action.NONE


def test_vocabulary_on_a_draft_fixes_contact_but_drifts_on_an_active_manifest() -> None:
    step = VocabularyStep()
    draft = step.decide(vocabulary_seen(contact="someone@else.example"), SEEDS, NO)
    assert draft.action == Action.UPDATE and draft.writes[0].values["contact"] == SEEDS.manifest.contact
    assert "capabilityDescription" not in draft.writes[0].values
    vocabulary = SEEDS.manifest.vocabulary()
    vocabulary["declaredWidgetTypes"] = vocabulary["declaredWidgetTypes"][:-1]
    active = step.decide(vocabulary_seen("active", vocabulary=vocabulary), SEEDS, NO)
    assert active.action == Action.DRIFT and active.writes == [] and "--new-manifest-version" in active.detail
    assert active.diffs[0].field == "declaredWidgetTypes" and "missing ops.change-calendar" in active.diffs[0].live


@pytest.mark.parametrize(
    ("observation", "action"),
    [
        (ActivateObservation(version="1.0", inferred=True), Action.UPDATE),
        (ActivateObservation(version="1.0", manifest_id=MANIFEST_ID, status="draft"), Action.UPDATE),
        (ActivateObservation(version="1.0", manifest_id=MANIFEST_ID, status="active"), Action.NONE),
        (ActivateObservation(version="1.0", manifest_id=MANIFEST_ID, status="retired"), Action.BLOCKED),
    ],
)
def test_activate(observation: ActivateObservation, action: Action) -> None:
    decision = ActivateStep().decide(observation, SEEDS, NO)
    assert decision.action == action
    if action == Action.UPDATE:
        assert decision.writes[0].values == {"version": "1.0"}
    if action == Action.BLOCKED:
        assert decision.pending == [] and "--new-manifest-version" in decision.detail


# ---------------------------------------------------------------- consumer, key, widgets


def consumer_seen(**changes: object) -> ApiConsumerObservation:
    fields = {"description": SEEDS.api_consumer.description, "manifest": "ops-hub 1.0", "key_prefix": None, **changes}
    return ApiConsumerObservation(name="ops-hub", found=True, consumer_id=CONSUMER_ID, **fields)


def test_api_consumer() -> None:
    step = ApiConsumerStep()
    create = step.decide(ApiConsumerObservation(name="ops-hub"), SEEDS, NO)
    assert create.action == Action.CREATE and create.writes[0].where == "/ApiConsumers/new"
    assert create.writes[0].values == {"name": "ops-hub", "description": SEEDS.api_consumer.description, "manifest": "ops-hub 1.0"}
    assert step.decide(consumer_seen(), SEEDS, NO).action == Action.NONE
    older = step.decide(consumer_seen(), SEEDS, Options(new_manifest_version="1.1"))
    assert older.action == Action.NONE and "still bound to ops-hub 1.0" in older.detail
    other = step.decide(consumer_seen(manifest="inter-hub 1.0", description="other"), SEEDS, NO)
    assert other.action == Action.DRIFT and [d.field for d in other.diffs] == ["manifest", "description"]


def key_seen(**changes: object) -> ApiKeyObservation:
    fields = {"consumer_id": CONSUMER_ID, "key_prefix": "abcd1234", "held": True, "key_scopes": list(SCOPES), **changes}
    return ApiKeyObservation(consumer="ops-hub", sink="file:/keys/ops-hub.json", **fields)


@pytest.mark.parametrize(
    ("observation", "options", "action", "write"),
    [
        (ApiKeyObservation(consumer="ops-hub", sink="file:/k", inferred=True), NO, Action.CREATE, "generate API key"),
        (key_seen(key_prefix=None, held=False, key_scopes=None), NO, Action.CREATE, "generate API key"),
        (key_seen(), NO, Action.NONE, None),
        (key_seen(), Options(rotate_key=True), Action.UPDATE, "regenerate API key (revokes the current one)"),
        (key_seen(held=False, key_scopes=None), NO, Action.BLOCKED, "regenerate API key (revokes the current one)"),
        (key_seen(key_scopes=["framework:read"]), NO, Action.DRIFT, None),
    ],
)
def test_api_key(observation: ApiKeyObservation, options: Options, action: Action, write: str | None) -> None:
    decision = ApiKeyStep().decide(observation, SEEDS, options)
    assert decision.action == action
    assert [w.action for w in decision.writes] == ([write] if write else [])
    for w in decision.writes:
        assert w.values["scopes"] == " ".join(SCOPES) and w.values["key sink"] == observation.sink
        assert all(len(str(v)) < 200 for v in w.values.values())  # descriptions of the key, never a key
    if action == Action.BLOCKED:
        assert "nobody has it" in decision.detail and decision.pending == []
    if action == Action.DRIFT:
        assert decision.diffs[0].field == "keyScopes"


def test_widgets() -> None:
    step = WidgetsStep()
    inferred = step.decide(WidgetsObservation(inferred=True), SEEDS, NO)
    assert inferred.action == Action.CREATE and len(inferred.writes) == len(SEEDS.widgets)
    assert inferred.writes[0].where == "/Widgets/new?hubId=<new hub>"
    first = SEEDS.widgets[0]
    assert inferred.writes[0].values == {"name": first.name, "title": first.title, "type": first.type, "config": first.config}
    all_there = [WidgetRow(name=w.name, title=w.title, type=w.type) for w in SEEDS.widgets]
    some = step.decide(WidgetsObservation(hub_id=HUB_ID, widgets=all_there[:2]), SEEDS, NO)
    assert some.action == Action.CREATE and [w.values["name"] for w in some.writes] == [w.name for w in SEEDS.widgets[2:]]
    assert step.decide(WidgetsObservation(hub_id=HUB_ID, widgets=all_there), SEEDS, NO).action == Action.NONE
    renamed = [all_there[0].model_copy(update={"title": "Renamed"}), *all_there[1:]]
    drift = step.decide(WidgetsObservation(hub_id=HUB_ID, widgets=renamed), SEEDS, NO)
    assert drift.action == Action.DRIFT and drift.diffs[0].field == f"{first.name}.title"


def test_decide_is_pure() -> None:
    observation = hub_seen(domain="ops.example.org")
    frozen = observation.model_dump()
    first = HubStep().decide(observation, SEEDS, Options(update=True))
    assert HubStep().decide(observation, SEEDS, Options(update=True)) == first
    assert observation.model_dump() == frozen


# ---------------------------------------------------------------- the saved plan


def fresh_plan() -> list[StepResult]:
    """The plan of an Inter-Hub where the hub exists and nothing else."""
    seen = [
        (LoginStep(), LoginObservation(seen="with the given session")),
        (HubStep(), hub_seen().model_copy(update={"manifests": []})),
        (ManifestStep(), ManifestObservation(version="1.0", hub_id=HUB_ID)),
        (VocabularyStep(), VocabularyObservation(version="1.0", inferred=True)),
        (ActivateStep(), ActivateObservation(version="1.0", inferred=True)),
        (ApiConsumerStep(), ApiConsumerObservation(name="ops-hub")),
        (ApiKeyStep(), ApiKeyObservation(consumer="ops-hub", sink="file:/k", inferred=True)),
        (WidgetsStep(), WidgetsObservation(hub_id=HUB_ID)),
    ]
    results = []
    for step, observation in seen:
        decision = step.decide(observation, SEEDS, NO)
        results.append(StepResult(step.name, "create", decision=decision, observation=observation))  # type: ignore[arg-type]
    return results


def test_a_saved_plan_round_trips_sealed_and_0600(tmp_path: Path) -> None:
    plan = build_plan(target="http://127.0.0.1:8000", seeds=SEEDS, options=NO, operator="alice", results=fresh_plan())
    path = tmp_path / "plan.json"
    save_plan(plan, path, KnownSecrets(["Sandbox-Admin-Pw-1"]))
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_plan(path)
    assert loaded == plan and loaded.sha256 == loaded.digest() and loaded.pending == 11
    assert isinstance(loaded.steps[1].observation, HubObservation)  # typed again on load
    check_context(loaded, target="http://127.0.0.1:8000", seeds=SEEDS, path=path)
    check_observations([(s.name, s.observation) for s in loaded.steps], fresh_plan(), "plan file")


@pytest.mark.parametrize(
    "alter",
    [
        lambda d: d["steps"][1]["writes"].append({"step": "hub", "action": "x", "where": "/", "values": {}}),
        lambda d: d["steps"][7]["writes"][0]["values"].update(title="Other"),
        lambda d: d.update(target="http://127.0.0.1:9"),
        lambda d: d["steps"][1]["observation"].update(unexpected=1),
    ],
)
def test_an_altered_plan_file_is_refused(tmp_path: Path, alter) -> None:  # noqa: ANN001
    plan = build_plan(target="http://127.0.0.1:8000", seeds=SEEDS, options=NO, operator="alice", results=fresh_plan())
    path = tmp_path / "plan.json"
    save_plan(plan, path, KnownSecrets([]))
    data = json.loads(path.read_text())
    alter(data)
    path.write_text(json.dumps(data))
    with pytest.raises(StalePlan) as refused:
        load_plan(path)
    assert refused.value.exit_code == ExitCode.STALE_PLAN == 13


def test_a_plan_never_holds_a_known_secret(tmp_path: Path) -> None:
    plan = build_plan(target="http://127.0.0.1:8000", seeds=SEEDS, options=NO, operator="alice", results=fresh_plan())
    with pytest.raises(Exception, match="would hold a secret"):
        save_plan(plan, tmp_path / "plan.json", KnownSecrets(["ops-team@coulomb.social"]))
    assert not (tmp_path / "plan.json").exists()


def test_stale_observations_and_context_are_named(tmp_path: Path) -> None:
    plan = build_plan(target="http://127.0.0.1:8000", seeds=SEEDS, options=NO, operator="alice", results=fresh_plan())
    now = fresh_plan()
    now[1].observation = hub_seen(domain="ops.example.org").model_copy(update={"manifests": []})
    with pytest.raises(StalePlan) as stale:
        check_observations([(s.name, s.observation) for s in plan.steps], now, "plan file p.json")
    assert "stale plan: hub ops-hub's domain changed since the plan (plan saw ops.coulomb.social, now ops.example.org)" in stale.value.message
    assert stale.value.where == "step hub, plan file p.json"
    assert differences(LoginObservation(seen="a"), LoginObservation(seen="b")) == []  # how one logged in is no state
    with pytest.raises(StalePlan, match="not http://127.0.0.1:9"):
        check_context(plan, target="http://127.0.0.1:9", seeds=SEEDS, path=tmp_path)
    with pytest.raises(StalePlan, match="made by ihub-bootstrap 0.0.1"):
        check_context(plan.model_copy(update={"tool_version": "0.0.1"}), target="http://127.0.0.1:8000", seeds=SEEDS, path=tmp_path)
