"""The SQL fallback (``ihub-bootstrap sql``): the script rendered from the seeds, applied with
the real ``psql`` to a real PostgreSQL holding the sandbox's schema, twice; then the sandbox
serves that database and the runbook's registry and hub-registry checks pass."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from flows import sqlgen
from flows.errors import ExitCode
from flows.seeds import PROJECT_SEEDS, SeedSet, load_seeds
from flows.verify import REGISTRIES, check_hub_registry, check_registry
from tests.support import SandboxFactory
from tests.pg import pg_database, pg_server, psql  # noqa: F401  (fixtures)

TABLES = (
    "hubs",
    "hub_capability_manifests",
    "widget_types",
    "event_types",
    "annotation_categories",
    "policy_scopes",
    "api_consumers",
    "api_keys",
    "widgets",
)
CLASSIFICATION = "hub_family:vsm vsm_function:OPS vsm_system:S1"
# Free-text seed values that must reach the database byte for byte and break nothing.
HOSTILE = {
    "quotes": "O'Brien's \"Ops\" Hub \\ $$ $ihub$ $ihub1$ '); DROP TABLE hubs; --",
    "escapes": "line1\nline2\r\n\ttab \\n \\x27 \\' E'\\\\' \\\\ end\\",
    "psql": ":foo :'bar' :\"baz\" \\! echo pwned \\g \\q \\set ON_ERROR_STOP off",
    "unicode": "Ünïcødé ✓ 🚀 日本語 \u2028 \u00a0 \u202ertl",
    "format": "%L %s %I $1 */ /* ; COMMIT; ROLLBACK; \\.",
}


# ---------------------------------------------------------------- helpers


def copy_seeds(tmp_path: Path, edit: Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None] | None = None) -> Path:
    """A copy of the project's seeds, with ``edit(hub, manifest, widgets)`` applied to the JSON."""
    target = tmp_path / "seeds"
    shutil.copytree(PROJECT_SEEDS, target)
    if edit is not None:
        files = [target / "ops-hub.hub.json", target / "ops-hub-manifest.draft.json", target / "ops-hub-widgets.seed.json"]
        docs = [json.loads(f.read_text(encoding="utf-8")) for f in files]
        edit(*docs)
        for f, doc in zip(files, docs):
            f.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return target


def render_to(tmp_path: Path, seeds_dir: Path, name: str = "ops-hub-bootstrap.sql") -> Path:
    out = tmp_path / name
    assert sqlgen.main(["--seeds", str(seeds_dir), "--out", str(out)]) == ExitCode.OK
    return out


def run_psql(psql: str, url: str, script: Path, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """As the runbook does: the script on psql's stdin (it sets ON_ERROR_STOP itself); -X: no ~/.psqlrc."""
    with script.open("rb") as stdin:
        done = subprocess.run(
            [psql, "-X", "-d", url],
            stdin=stdin,
            capture_output=True,
            env={**os.environ, **(env or {})},
            timeout=60,
            check=False,
        )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def snapshot(url: str) -> dict[str, list[str]]:
    """Every table the bootstrap writes, each row as JSON text, sorted."""
    with psycopg.connect(url) as conn:
        return {
            table: sorted(row[0] for row in conn.execute(f"SELECT to_jsonb(t)::text FROM {table} AS t"))  # noqa: S608
            for table in TABLES
        }


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def runbook_checks(base_url: str, seeds: SeedSet) -> None:
    with httpx.Client(base_url=base_url, timeout=10, follow_redirects=False) as client:
        checks = [check_registry(client, seeds, registry, field) for registry, field in REGISTRIES]
        checks.append(check_hub_registry(client, seeds))
    assert all(c.ok for c in checks), [c.to_json() for c in checks if not c.ok]


# ---------------------------------------------------------------- rendering (no database)


def test_literal_doubles_quotes_only() -> None:
    assert sqlgen.literal("it's") == "'it''s'"
    assert sqlgen.literal("a\\b $$ \n") == "'a\\b $$ \n'"
    assert sqlgen.json_literal({"k": "it's"}) == "'{\"k\": \"it''s\"}'::jsonb"


def test_dollar_quote_tag_never_occurs_in_the_body() -> None:
    body = "SELECT '$ihub$', '$ihub1$'"
    quoted = sqlgen.dollar_quoted(body)
    assert quoted == f"$ihub2$\n{body}\n$ihub2$"


def test_comment_cannot_end_the_comment_line() -> None:
    assert "\n" not in sqlgen.comment("/seeds\n; DROP TABLE hubs; --/x.json")


def test_script_header_and_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert sqlgen.main(["--out", "-", "--seeds", str(PROJECT_SEEDS)]) == ExitCode.OK
    script = capsys.readouterr().out
    seeds = load_seeds()
    header = script.split("\\set ON_ERROR_STOP on", 1)[0]
    assert f"ihub-bootstrap {sqlgen.tool_version()}" in header
    for path, digest in seeds.digests().items():
        assert path in header and digest in header
    assert "does NOT create the API key" in header
    assert "psql -U postgres -d interhub < ops-hub-bootstrap.sql" in header
    assert "ihub-bootstrap apply" in header
    assert all(line.startswith("--") or not line for line in header.splitlines())
    body = script[len(header) :]
    assert body.startswith("\\set ON_ERROR_STOP on\n")
    assert "\nBEGIN;\n" in body and "\nCOMMIT;\n" in body
    assert "api_keys" not in body  # no key, not even a reference


def test_default_output_name_in_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlgen.main(["--seeds", str(PROJECT_SEEDS)]) == ExitCode.OK  # the default is ./seeds of the cwd
    out, err = capsys.readouterr()
    assert out.strip() == "ops-hub-bootstrap.sql"
    assert (tmp_path / "ops-hub-bootstrap.sql").read_text(encoding="utf-8").startswith("-- ops-hub-bootstrap.sql:")
    assert "creates no API key" in err


@pytest.mark.parametrize(
    ("value", "message"),
    [("nul \u0000 here", "NUL character"), (float("nan"), "NaN or Infinity")],
)
def test_values_postgresql_cannot_hold_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: Any, message: str) -> None:
    def edit(hub: dict[str, Any], manifest: dict[str, Any], widgets: dict[str, Any]) -> None:
        widgets["widgets"][0]["config"]["bad"] = value

    seeds = copy_seeds(tmp_path, edit)
    assert sqlgen.main(["--seeds", str(seeds), "--out", str(tmp_path / "x.sql")]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.sql").exists()


def test_unwritable_output_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = sqlgen.main(["--out", str(tmp_path / "missing-dir" / "x.sql")])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "cannot write the SQL script" in err and "Traceback" not in err


# ---------------------------------------------------------------- against PostgreSQL


@pytest.mark.postgres
@pytest.mark.parametrize("schema", ["older", "newer"])
def test_applied_twice_then_the_runbook_checks_pass(
    schema: str, pg_database: str, psql: str, sandbox_factory: SandboxFactory, tmp_path: Path  # noqa: F811
) -> None:
    running = sandbox_factory(db=pg_database, schema=schema)  # creates the schema and the framework hub
    script = render_to(tmp_path, PROJECT_SEEDS)
    seeds = load_seeds()

    first = run_psql(psql, pg_database, script)
    assert first.returncode == 0, first.stderr
    assert "ERROR" not in first.stderr
    after_first = snapshot(pg_database)
    second = run_psql(psql, pg_database, script)
    assert second.returncode == 0, second.stderr
    assert snapshot(pg_database) == after_first  # idempotent: not even a timestamp moved

    [(hub_id, name, domain, kind)] = query(pg_database, "SELECT id, name, domain, kind FROM hubs WHERE slug = 'ops-hub'")
    assert (name, domain, kind) == ("Ops Hub", "ops.coulomb.social", "domain")
    [(manifest_id, status, description, widget_types)] = query(
        pg_database,
        "SELECT id, status, capability_description, declared_widget_types FROM hub_capability_manifests WHERE hub_id = %s",
        hub_id,
    )
    assert status == "active" and CLASSIFICATION in description
    assert widget_types == seeds.manifest.vocabulary()["declaredWidgetTypes"]
    for table, field in (("widget_types", "declaredWidgetTypes"), ("event_types", "declaredEventTypes"),
                         ("annotation_categories", "declaredAnnotationCategories")):
        registered = query(pg_database, f"SELECT key, name, description, hub_capability_manifest_id FROM {table} WHERE hub_id = %s", hub_id)  # noqa: S608
        want = [(e["key"], e["name"], e["description"], manifest_id) for e in seeds.manifest.vocabulary()[field]]
        assert sorted(registered) == sorted(want)
    scopes = query(pg_database, "SELECT key FROM policy_scopes WHERE hub_capability_manifest_id = %s", manifest_id)
    assert sorted(k for (k,) in scopes) == ["hub:ops-hub:read", "hub:ops-hub:write"]
    consumers = query(pg_database, "SELECT name, description, hub_capability_manifest_id FROM api_consumers")
    assert consumers == [("ops-hub", "API consumer for the VSM Operations hub", manifest_id)]
    assert query(pg_database, "SELECT count(*) FROM api_keys") == [(0,)]
    widgets = query(pg_database, "SELECT name, title, widget_type, config FROM widgets WHERE hub_id = %s", hub_id)
    assert sorted(widgets) == sorted((w.name, w.title, w.type, w.config) for w in seeds.widgets)
    # the framework hub's own vocabulary is untouched
    assert query(pg_database, "SELECT count(*) FROM widget_types WHERE key LIKE 'core.%%'") == [(2,)]

    columns = {c for (c,) in query(pg_database, "SELECT column_name FROM information_schema.columns WHERE table_name = 'hubs'")}
    if schema == "newer":
        assert query(pg_database, "SELECT hub_family, vsm_function, vsm_system FROM hubs WHERE id = %s", hub_id) == [("vsm", "OPS", "S1")]
    else:
        assert "hub_family" not in columns  # nothing was added to the older schema
        assert "no first-class VSM columns" in first.stderr  # and the operator was told

    runbook_checks(running.base_url, seeds)
    with httpx.Client(base_url=running.base_url) as client:
        [ops] = [h for h in client.get("/api/v2/hub-registry").json()["data"] if h["slug"] == "ops-hub"]
    assert ops["widgets"] == 6 and ops["manifestVersion"] == "1.0"
    if schema == "newer":
        assert (ops["hubFamily"], ops["vsmFunction"], ops["vsmSystem"]) == ("vsm", "OPS", "S1")


@pytest.mark.postgres
def test_hostile_free_text_arrives_verbatim(pg_database: str, psql: str, sandbox_factory: SandboxFactory, tmp_path: Path) -> None:  # noqa: F811
    h = HOSTILE

    def edit(hub: dict[str, Any], manifest: dict[str, Any], widgets: dict[str, Any]) -> None:
        hub["hub"]["name"] = h["quotes"] + " " + h["unicode"]
        hub["apiConsumer"]["description"] = h["escapes"] + h["psql"]
        manifest["capabilityDescription"] = "\n".join(HOSTILE.values()) + " " + CLASSIFICATION
        manifest["contact"] = h["format"] + " <ops@example.org>"
        manifest["declaredWidgetTypes"][0]["name"] = h["quotes"]
        manifest["declaredWidgetTypes"][0]["description"] = h["escapes"]
        manifest["declaredPolicyScopes"][0]["description"] = h["psql"]
        widgets["widgets"][0]["title"] = h["unicode"] + h["format"]
        widgets["widgets"][0]["config"] = {"q": h["quotes"], "nested": [h["escapes"], {h["psql"]: h["unicode"]}], "n": 1.5}

    seeds_dir = copy_seeds(tmp_path, edit)
    seeds = load_seeds(seeds_dir)
    running = sandbox_factory(db=pg_database, schema="newer")
    script = render_to(tmp_path, seeds_dir)
    tables_before = query(pg_database, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")

    # A C locale and a Latin-1 client: psql would not send UTF-8 unless the script says so.
    done = run_psql(psql, pg_database, script, env={"LC_ALL": "C", "LANG": "C", "PGCLIENTENCODING": "LATIN1"})
    assert done.returncode == 0, done.stderr
    assert "pwned" not in done.stdout + done.stderr
    again = snapshot(pg_database)
    assert run_psql(psql, pg_database, script).returncode == 0
    assert snapshot(pg_database) == again

    assert query(pg_database, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == tables_before
    assert query(pg_database, "SELECT name FROM hubs WHERE slug = 'ops-hub'") == [(seeds.hub.name,)]
    assert query(pg_database, "SELECT description FROM api_consumers") == [(seeds.api_consumer.description,)]
    assert query(pg_database, "SELECT capability_description, contact, declared_widget_types, declared_policy_scopes FROM hub_capability_manifests m JOIN hubs h ON h.id = m.hub_id WHERE h.slug = 'ops-hub'") == [
        (
            seeds.manifest.capability_description,
            seeds.manifest.contact,
            seeds.manifest.vocabulary()["declaredWidgetTypes"],
            seeds.manifest.vocabulary()["declaredPolicyScopes"],
        )
    ]
    first = seeds.manifest.declared_widget_types[0]
    assert query(pg_database, "SELECT name, description FROM widget_types WHERE key = %s", first.key) == [(first.name, first.description)]
    assert query(pg_database, "SELECT description FROM policy_scopes WHERE key = 'hub:ops-hub:read'") == [(h["psql"],)]
    widget = seeds.widgets[0]
    assert query(pg_database, "SELECT title, config FROM widgets WHERE name = %s", widget.name) == [(widget.title, widget.config)]

    runbook_checks(running.base_url, seeds)  # and the API serves them as they are
    with httpx.Client(base_url=running.base_url) as client:
        served = {e["key"]: e for e in client.get("/api/v2/widget-types").json()["data"]}
    assert served[first.key]["name"] == h["quotes"]


@pytest.mark.postgres
def test_registry_key_of_another_hub_fails_and_commits_nothing(
    pg_database: str, psql: str, sandbox_factory: SandboxFactory, tmp_path: Path  # noqa: F811
) -> None:
    def edit(hub: dict[str, Any], manifest: dict[str, Any], widgets: dict[str, Any]) -> None:
        # core.note belongs to the framework hub (the sandbox's demo data)
        manifest["declaredWidgetTypes"].append({"key": "core.note", "name": "Stolen note", "description": ""})

    sandbox_factory(db=pg_database, schema="newer")
    script = render_to(tmp_path, copy_seeds(tmp_path, edit))
    before = snapshot(pg_database)

    done = run_psql(psql, pg_database, script)  # no -v ON_ERROR_STOP=1: the script's own \set must stop it
    assert done.returncode != 0
    assert "widget type core.note is already registered by hub inter-hub; nothing was changed" in done.stderr
    assert "COMMIT" not in done.stdout
    assert snapshot(pg_database) == before
    assert query(pg_database, "SELECT hub_id FROM widget_types WHERE key = 'core.note'") == query(
        pg_database, "SELECT id FROM hubs WHERE slug = 'inter-hub'"
    )


@pytest.mark.postgres
def test_new_manifest_version_retires_the_active_one(pg_database: str, psql: str, sandbox_factory: SandboxFactory, tmp_path: Path) -> None:  # noqa: F811
    def bump(hub: dict[str, Any], manifest: dict[str, Any], widgets: dict[str, Any]) -> None:
        manifest["version"] = "1.1"
        manifest["declaredEventTypes"] = manifest["declaredEventTypes"][:2]

    running = sandbox_factory(db=pg_database, schema="older")
    assert run_psql(psql, pg_database, render_to(tmp_path, PROJECT_SEEDS, "v10.sql")).returncode == 0
    bumped_dir = copy_seeds(tmp_path, bump)
    done = run_psql(psql, pg_database, render_to(tmp_path, bumped_dir, "v11.sql"))
    assert done.returncode == 0, done.stderr

    manifests = query(pg_database, "SELECT m.version, m.status FROM hub_capability_manifests m JOIN hubs h ON h.id = m.hub_id WHERE h.slug = 'ops-hub' ORDER BY m.version")
    assert manifests == [("1.0", "retired"), ("1.1", "active")]
    events = query(pg_database, "SELECT e.key, m.version FROM event_types e JOIN hub_capability_manifests m ON m.id = e.hub_capability_manifest_id JOIN hubs h ON h.id = e.hub_id WHERE h.slug = 'ops-hub'")
    assert sorted(events) == [("ops.incident.acknowledged", "1.1"), ("ops.incident.opened", "1.1")]
    runbook_checks(running.base_url, load_seeds(bumped_dir))

    # the retired version cannot come back: the 1.0 script now stops, changing nothing
    before = snapshot(pg_database)
    done = run_psql(psql, pg_database, tmp_path / "v10.sql")
    assert done.returncode != 0 and "manifest 1.0 of hub ops-hub is retired" in done.stderr
    assert snapshot(pg_database) == before
