"""The sandbox over real HTTP: login, each admin form's happy path and validation errors, the
one-time key, the v2 API with its token grant, both gate modes, 4xx (never 500) for bad input."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import httpx
import pytest

from sandbox.web import sha256_hex
from tests.support import ADMIN_PASSWORD, SandboxFactory, count, login, rows

UUID = r"[0-9a-f-]{36}"


def flash(html: str) -> str:
    match = re.search(r'<div class="alert alert-(?:success|danger)">(.*?)</div>', html, re.S)
    return unescape(match.group(1).strip()) if match else ""


def feedback(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<div class="invalid-feedback">(.*?)</div>', html)]


def create_hub(admin: httpx.Client, **overrides: str) -> str:
    data = {"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.coulomb.social", "kind": "domain", **overrides}
    response = admin.post("/CreateHub", data=data)
    assert response.status_code == 302, feedback(response.text)
    return re.search(f"hubId=({UUID})", response.headers["location"]).group(1)  # type: ignore[union-attr]


VOCAB = {
    "declaredWidgetTypes": [{"key": "ops.board", "name": "Board", "description": "b"}],
    "declaredEventTypes": [{"key": "ops.incident.opened", "name": "Opened"}],
    "declaredAnnotationCategories": [{"key": "ops.postmortem", "name": "Postmortem"}],
    "declaredPolicyScopes": [{"key": "hub:ops-hub:read"}, {"key": "hub:ops-hub:write"}],
}


def create_manifest(admin: httpx.Client, hub_id: str, *, activate: bool = True, **vocab: Any) -> str:
    response = admin.post(
        "/CreateHubCapabilityManifest",
        data={"hubId": hub_id, "version": "1.0", "capabilityDescription": "ops", "contact": "ops@x.org"},
    )
    assert response.status_code == 302, feedback(response.text)
    manifest_id = re.search(f"hubCapabilityManifestId=({UUID})", response.headers["location"]).group(1)  # type: ignore[union-attr]
    fields = {k: json.dumps(v) for k, v in {**VOCAB, **vocab}.items()}
    response = admin.post(
        f"/UpdateHubCapabilityManifest?hubCapabilityManifestId={manifest_id}",
        data={"version": "1.0", "capabilityDescription": "ops", "contact": "ops@x.org", **fields},
    )
    assert response.status_code == 302, feedback(response.text)
    if activate:
        response = admin.post(f"/ActivateHubCapabilityManifest?hubCapabilityManifestId={manifest_id}")
        assert response.status_code == 302
    return manifest_id


def create_consumer(admin: httpx.Client, manifest_id: str, name: str = "ops-hub") -> str:
    response = admin.post(
        "/CreateApiConsumer", data={"name": name, "description": "consumer", "hubCapabilityManifestId": manifest_id}
    )
    assert response.status_code == 302, feedback(response.text)
    return re.search(f"apiConsumerId=({UUID})", response.headers["location"]).group(1)  # type: ignore[union-attr]


def generate_key(admin: httpx.Client, consumer_id: str, scopes: str) -> str:
    response = admin.post(f"/CreateApiKey?apiConsumerId={consumer_id}", data={"scopes": scopes})
    assert response.status_code == 200
    match = re.search(r'id="apiKey_key"[^>]*value="([^"]+)"', response.text)
    assert match, feedback(response.text)
    return match.group(1)


# ---------------------------------------------------------------- login


def test_admin_pages_require_login(sandbox) -> None:  # noqa: ANN001
    with httpx.Client(base_url=sandbox.base_url) as anonymous:
        for path in ("/Hubs", "/Hubs/new", "/ApiConsumers", "/ApiConsumers/new"):
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code == 302 and response.headers["location"] == "/NewSession", path
        page = anonymous.get("/Hubs", follow_redirects=True)
        assert page.url.path == "/NewSession"
        assert flash(page.text) == "Please log in to access this page"
        post = anonymous.post("/CreateHub", data={"name": "x"}, follow_redirects=False)
        assert post.status_code == 302 and count(sandbox, "hubs") == 1  # only the framework hub


def test_login_failure_and_success(sandbox) -> None:  # noqa: ANN001
    with httpx.Client(base_url=sandbox.base_url) as client:
        wrong = login(client, password="not-the-password")
        assert wrong.status_code == 200
        assert flash(wrong.text) == "Invalid Credentials"
        before = client.cookies.get("SESSION")
        ok = login(client, ADMIN_PASSWORD)
        assert ok.status_code == 302
        cookie = ok.headers["set-cookie"]
        assert "SESSION=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert client.cookies.get("SESSION") != before  # a new session id on login
        assert client.get("/Hubs").status_code == 200


def test_garbage_session_cookie_is_sent_to_login(sandbox) -> None:  # noqa: ANN001
    with httpx.Client(base_url=sandbox.base_url, cookies={"SESSION": "garbage-value"}) as client:
        response = client.get("/Hubs", follow_redirects=False)
        assert response.status_code == 302 and response.headers["location"] == "/NewSession"


# ---------------------------------------------------------------- hubs


def test_hub_create_show_edit(admin, sandbox) -> None:  # noqa: ANN001
    hub_id = create_hub(admin)
    show = admin.get(f"/ShowHub?hubId={hub_id}")
    assert "<h1>Show Hub</h1>" in show.text and flash(show.text) == "Hub created"
    assert "ops.coulomb.social" in admin.get("/Hubs").text
    edit = admin.post(f"/UpdateHub?hubId={hub_id}", data={"name": "Ops", "slug": "ops-hub", "domain": "ops.example.org", "kind": "domain"})
    assert edit.status_code == 302
    (hub,) = [r for r in rows(sandbox, "hubs") if r.slug == "ops-hub"]
    assert hub.domain == "ops.example.org" and hub.name == "Ops"


def test_hub_validation(admin, sandbox) -> None:  # noqa: ANN001
    empty = admin.post("/CreateHub", data={"name": "", "slug": "", "domain": "", "kind": ""})
    assert empty.status_code == 200
    assert feedback(empty.text).count("This field cannot be empty") == 4
    assert 'class="form-control is-invalid"' in empty.text
    create_hub(admin)
    taken = admin.post("/CreateHub", data={"name": "Again", "slug": "ops-hub", "domain": "a.b.org", "kind": "domain"})
    assert feedback(taken.text) == ["This is already in use"]
    bad = admin.post("/CreateHub", data={"name": "X", "slug": "Bad Slug", "domain": "nodots", "kind": "planet"})
    assert len(feedback(bad.text)) == 3
    assert count(sandbox, "hubs", slug="ops-hub") == 1


def test_newer_schema_has_vsm_fields(sandbox_factory: SandboxFactory) -> None:
    older, newer = sandbox_factory(), sandbox_factory(schema="newer")
    for running, expected in ((older, False), (newer, True)):
        with httpx.Client(base_url=running.base_url) as client:
            login(client)
            form = client.get("/Hubs/new").text
            assert ('id="hub_vsmFunction"' in form) is expected
            assert ('<label class="form-label" for="hub_hubFamily">Hub Family</label>' in form) is expected
    with httpx.Client(base_url=newer.base_url) as client:
        login(client)
        data = {"name": "Ops", "slug": "ops-hub", "domain": "ops.x.org", "kind": "domain", "hubFamily": "vsm", "vsmFunction": "OPS", "vsmSystem": "S1"}
        assert client.post("/CreateHub", data=data).status_code == 302
    (hub,) = [r for r in rows(newer, "hubs") if r.slug == "ops-hub"]
    assert (hub.hub_family, hub.vsm_function, hub.vsm_system) == ("vsm", "OPS", "S1")


# ---------------------------------------------------------------- manifests


def test_manifest_lifecycle_publishes_vocabulary(admin, sandbox) -> None:  # noqa: ANN001
    hub_id = create_hub(admin)
    manifest_id = create_manifest(admin, hub_id, activate=False)
    show = admin.get(f"/ShowHubCapabilityManifest?hubCapabilityManifestId={manifest_id}").text
    assert "draft" in show and "Activate" in show and "data-confirm=" in show
    keys = [e["key"] for e in httpx.get(f"{sandbox.base_url}/api/v2/widget-types").json()["data"]]
    assert "ops.board" not in keys  # a draft publishes nothing
    activated = admin.post(f"/ActivateHubCapabilityManifest?hubCapabilityManifestId={manifest_id}", follow_redirects=True)
    assert flash(activated.text) == "Manifest 1.0 activated"
    assert ">active<" in activated.text and 'data-confirm=' not in activated.text
    for registry, key in (("widget-types", "ops.board"), ("event-types", "ops.incident.opened"), ("annotation-categories", "ops.postmortem")):
        entries = httpx.get(f"{sandbox.base_url}/api/v2/{registry}").json()["data"]
        assert {"key": key, "hub": "ops-hub"}.items() <= next(e for e in entries if e["key"] == key).items()
    registry = httpx.get(f"{sandbox.base_url}/api/v2/hub-registry").json()["data"]
    assert any(h["slug"] == "ops-hub" and h["manifestVersion"] == "1.0" for h in registry)


def test_manifest_validation(admin, sandbox) -> None:  # noqa: ANN001
    hub_id = create_hub(admin)
    empty = admin.post("/CreateHubCapabilityManifest", data={"hubId": hub_id, "version": "", "capabilityDescription": "", "contact": ""})
    assert feedback(empty.text).count("This field cannot be empty") == 3
    manifest_id = create_manifest(admin, hub_id, activate=False)
    duplicate = admin.post("/CreateHubCapabilityManifest", data={"hubId": hub_id, "version": "1.0", "capabilityDescription": "x", "contact": "y"})
    assert feedback(duplicate.text) == ["This is already in use"]
    broken = admin.post(
        f"/UpdateHubCapabilityManifest?hubCapabilityManifestId={manifest_id}",
        data={"version": "1.0", "capabilityDescription": "x", "contact": "y", "declaredWidgetTypes": "[{", "declaredPolicyScopes": '[{"key": "hub:other:read"}]'},
    )
    messages = feedback(broken.text)
    assert any(m.startswith("Invalid JSON") for m in messages), messages
    assert any("hub:ops-hub:" in m for m in messages), messages


def test_activation_conflict_and_active_manifest_is_frozen(admin, sandbox) -> None:  # noqa: ANN001
    hub_id = create_hub(admin)
    manifest_id = create_manifest(admin, hub_id)
    other = create_hub(admin, name="Other", slug="other-hub", domain="other.x.org")
    response = admin.post(
        "/CreateHubCapabilityManifest", data={"hubId": other, "version": "1.0", "capabilityDescription": "x", "contact": "y"}
    )
    other_manifest = re.search(f"hubCapabilityManifestId=({UUID})", response.headers["location"]).group(1)  # type: ignore[union-attr]
    admin.post(
        f"/UpdateHubCapabilityManifest?hubCapabilityManifestId={other_manifest}",
        data={"version": "1.0", "capabilityDescription": "x", "contact": "y", "declaredWidgetTypes": json.dumps(VOCAB["declaredWidgetTypes"])},
    )
    refused = admin.post(f"/ActivateHubCapabilityManifest?hubCapabilityManifestId={other_manifest}", follow_redirects=True)
    assert "already registered by hub ops-hub" in flash(refused.text)
    edit = admin.get(f"/EditHubCapabilityManifest?hubCapabilityManifestId={manifest_id}", follow_redirects=True)
    assert "cannot be changed; create a new version" in flash(edit.text)


# ---------------------------------------------------------------- API consumers and keys


def test_consumer_and_key_shown_once_then_only_hash(admin, sandbox) -> None:  # noqa: ANN001
    manifest_id = create_manifest(admin, create_hub(admin))
    new_form = admin.get("/ApiConsumers/new").text
    assert "Ops Hub (ops-hub) 1.0" in new_form and "Please select" in new_form
    consumer_id = create_consumer(admin, manifest_id)
    key = generate_key(admin, consumer_id, "framework:read hub:ops-hub:read")
    assert key.startswith("ihk_") and len(key) > 40
    show = admin.get(f"/ShowApiConsumer?apiConsumerId={consumer_id}").text
    index = admin.get("/ApiConsumers").text
    for page in (show, index):
        assert key not in page
        assert f"{key[:8]}…" in page  # only a short prefix
    (stored,) = rows(sandbox, "api_keys")
    assert stored.key_hash == sha256_hex(key) and key not in json.dumps([str(v) for v in stored])
    assert "Regenerate API key" in show


def test_consumer_and_key_validation(admin, sandbox) -> None:  # noqa: ANN001
    manifest_id = create_manifest(admin, create_hub(admin))
    empty = admin.post("/CreateApiConsumer", data={"name": "", "description": ""})
    assert feedback(empty.text).count("This field cannot be empty") == 3
    consumer_id = create_consumer(admin, manifest_id)
    taken = admin.post("/CreateApiConsumer", data={"name": "ops-hub", "description": "d", "hubCapabilityManifestId": manifest_id})
    assert feedback(taken.text) == ["This is already in use"]
    unknown = admin.post(f"/CreateApiKey?apiConsumerId={consumer_id}", data={"scopes": "framework:read hub:people-hub:read"})
    assert feedback(unknown.text) == ["Unknown scope: hub:people-hub:read"]
    assert count(sandbox, "api_keys") == 0


def test_token_grant_and_refusals(admin, sandbox) -> None:  # noqa: ANN001
    consumer_id = create_consumer(admin, create_manifest(admin, create_hub(admin)))
    key = generate_key(admin, consumer_id, "framework:read hub:ops-hub:read")
    token_url = f"{sandbox.base_url}/api/v2/token"

    def token(**form: str) -> httpx.Response:
        data = {"grant_type": "client_credentials", "client_id": consumer_id, "client_secret": key, **form}
        return httpx.post(token_url, data=data)

    granted = token(scope="framework:read hub:ops-hub:read")
    assert granted.status_code == 200
    body = granted.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"]
    assert token(client_secret="ihk_wrong").json()["error"] == "invalid_client"
    assert token(client_secret="ihk_wrong").status_code == 401
    refused = token(scope="hub:ops-hub:write")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    assert token(grant_type="password").json()["error"] == "unsupported_grant_type"
    # regenerating revokes the old key
    new_key = generate_key(admin, consumer_id, "framework:read")
    assert token().status_code == 401
    assert httpx.post(token_url, data={"grant_type": "client_credentials", "client_id": consumer_id, "client_secret": new_key}).status_code == 200
    assert count(sandbox, "api_keys") == 2 and sum(r.revoked_at is None for r in rows(sandbox, "api_keys")) == 1


# ---------------------------------------------------------------- widgets


def test_widgets_create_and_validation(admin, sandbox) -> None:  # noqa: ANN001
    hub_id = create_hub(admin)
    no_manifest = admin.get(f"/Widgets/new?hubId={hub_id}").text
    assert "has no active manifest" in no_manifest
    create_manifest(admin, hub_id)
    form = admin.get(f"/Widgets/new?hubId={hub_id}").text
    assert 'value="ops.board"' in form
    bad = admin.post("/CreateWidget", data={"hubId": hub_id, "name": "", "title": "", "widgetType": "core.note", "config": "{oops"})
    messages = feedback(bad.text)
    assert messages.count("This field cannot be empty") == 2
    assert "This widget type is not declared by the hub's active manifest" in messages
    assert any(m.startswith("Invalid JSON") for m in messages)
    ok = admin.post("/CreateWidget", data={"hubId": hub_id, "name": "board", "title": "Board", "widgetType": "ops.board", "config": '{"a": 1}'})
    assert ok.status_code == 302 and "/ShowWidget?widgetId=" in ok.headers["location"]
    again = admin.post("/CreateWidget", data={"hubId": hub_id, "name": "board", "title": "B", "widgetType": "ops.board", "config": "{}"})
    assert feedback(again.text) == ["This is already in use"]
    listing = admin.get(f"/Widgets?hubId={hub_id}").text
    assert "<td>board</td>" in listing and "<td>ops.board</td>" in listing
    assert httpx.get(f"{sandbox.base_url}/api/v2/hub-registry").json()["data"][-1]["widgets"] == 1


# ---------------------------------------------------------------- the gate and the API


@pytest.mark.parametrize("gate", ["closed", "open"])
def test_gate_modes(sandbox_factory: SandboxFactory, gate: str) -> None:
    running = sandbox_factory(gate=gate)
    bootstrap_paths = {"/hubs", "/hub-capability-manifests", "/api-consumers", "/policy-scopes"}
    hubs = httpx.get(f"{running.base_url}/api/v2/hubs")
    paths = set(httpx.get(f"{running.base_url}/api/v2/openapi.json").json()["paths"])
    assert {"/widget-types", "/event-types", "/annotation-categories", "/hub-registry", "/token"} <= paths
    if gate == "closed":
        assert hubs.status_code == 404
        assert not bootstrap_paths & paths
    else:
        assert hubs.status_code == 401 and hubs.headers["www-authenticate"].startswith("Bearer")
        assert bootstrap_paths <= paths


def test_open_gate_serves_with_a_token(sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory(gate="open")
    with httpx.Client(base_url=running.base_url) as admin:
        login(admin)
        consumer_id = create_consumer(admin, create_manifest(admin, create_hub(admin)))
        key = generate_key(admin, consumer_id, "framework:read")
    token = httpx.post(
        f"{running.base_url}/api/v2/token",
        data={"grant_type": "client_credentials", "client_id": consumer_id, "client_secret": key},
    ).json()["access_token"]
    hubs = httpx.get(f"{running.base_url}/api/v2/hubs", headers={"Authorization": f"Bearer {token}"})
    assert hubs.status_code == 200 and any(h["slug"] == "ops-hub" for h in hubs.json()["data"])
    consumers = httpx.get(f"{running.base_url}/api/v2/api-consumers", headers={"Authorization": f"Bearer {token}"})
    assert key not in consumers.text


def test_bad_requests_are_4xx_never_500(admin, sandbox) -> None:  # noqa: ANN001
    cases = {
        "/ShowHub?hubId=not-a-uuid": 400,
        "/ShowHub": 400,
        "/ShowHub?hubId=00000000-0000-0000-0000-000000000000": 404,
        "/EditHubCapabilityManifest?hubCapabilityManifestId=00000000-0000-0000-0000-000000000000": 404,
        "/ShowApiConsumer?apiConsumerId=zzz": 400,
        "/Widgets/new?hubId=": 400,
        "/NoSuchPage": 404,
    }
    for path, status in cases.items():
        response = admin.get(path)
        assert response.status_code == status, path
        assert "Traceback" not in response.text and "<h1>" in response.text
    assert admin.get("/CreateHub").status_code == 405
    assert admin.post("/CreateWidget", data={"hubId": "nope"}).status_code == 400
    api = httpx.get(f"{sandbox.base_url}/api/v2/nothing")
    assert api.status_code == 404 and api.json() == {"error": "not_found"}
    form = httpx.post(f"{sandbox.base_url}/api/v2/token", json={"grant_type": "client_credentials"})
    assert form.status_code == 400 and form.json()["error"] == "invalid_request"
