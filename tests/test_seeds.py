"""Seeds as validated data: the project's seeds pass; each kind of bad seed fails before
anything runs, naming the file and the JSON path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flows.errors import ExitCode
from flows.seeds import PROJECT_SEEDS, SeedError, json_schemas, load_seeds

HUB = "ops-hub.hub.json"
MANIFEST = "ops-hub-manifest.draft.json"
WIDGETS = "ops-hub-widgets.seed.json"


def test_project_seeds_are_valid() -> None:
    seeds = load_seeds()
    assert seeds.hub.slug == "ops-hub"
    assert seeds.hub.domain == "ops.coulomb.social"
    assert seeds.hub.kind == "domain"
    assert seeds.api_consumer.name == "ops-hub"
    assert seeds.api_consumer.description == "API consumer for the VSM Operations hub"
    assert seeds.api_consumer.key_scopes == ["framework:read", "hub:ops-hub:read", "hub:ops-hub:write"]
    m = seeds.manifest
    assert m.version == "1.0"
    assert "hub_family:vsm vsm_function:OPS vsm_system:S1" in m.capability_description
    assert len(m.declared_widget_types) >= 5
    assert len(m.declared_event_types) >= 6
    assert len(m.declared_annotation_categories) >= 3
    assert len(seeds.widgets) >= 6
    assert {w.type for w in seeds.widgets} <= set(m.widget_type_keys())


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(PROJECT_SEEDS, target, ignore=shutil.ignore_patterns("schema"))
    return target


def _edit(directory: Path, name: str, change: Callable[[Any], None]) -> None:
    path = directory / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _set(*path_and_value: Any) -> Callable[[Any], None]:
    *path, value = path_and_value

    def change(data: Any) -> None:
        for part in path[:-1]:
            data = data[part]
        data[path[-1]] = value

    return change


def _widget_types(data: Any) -> None:
    data["declaredWidgetTypes"].append(dict(data["declaredWidgetTypes"][0]))


# (case, file, change, expected JSON path, words in the message)
BAD_SEEDS: list[tuple[str, str, Callable[[Any], None], str, str]] = [
    ("bad slug", HUB, _set("hub", "slug", "Ops_Hub"), "$.hub.slug", "slug"),
    ("bad domain", HUB, _set("hub", "domain", "ops coulomb"), "$.hub.domain", "domain"),
    ("bad kind", HUB, _set("hub", "kind", "Domain!"), "$.hub.kind", "kind"),
    ("empty name", HUB, _set("hub", "name", "  "), "$.hub.name", "empty"),
    ("unknown field", HUB, _set("hub", "colour", "blue"), "$.hub.colour", "unknown field"),
    ("number for string", HUB, _set("hub", "name", 42), "$.hub.name", "string"),
    ("missing field", HUB, lambda d: d["hub"].pop("domain"), "$.hub.domain", "missing"),
    ("bad vsm system", HUB, _set("hub", "vsmSystem", "S9"), "$.hub.vsmSystem", "S1..S5"),
    ("undeclared scope", HUB, _set("apiConsumer", "keyScopes", 2, "hub:ops-hub:admin"), "$.apiConsumer.keyScopes[2]", "declared"),
    ("foreign scope", HUB, _set("apiConsumer", "keyScopes", 1, "hub:other-hub:read"), "$.apiConsumer.keyScopes[1]", "declared"),
    ("scope listed twice", HUB, _set("apiConsumer", "keyScopes", 1, "framework:read"), "$.apiConsumer.keyScopes[1]", "twice"),
    ("bad version", MANIFEST, _set("version", "v1"), "$.version", "version"),
    ("version as number", MANIFEST, _set("version", 1.0), "$.version", "string"),
    ("duplicate widget type", MANIFEST, _widget_types, "$.declaredWidgetTypes[6].key", "duplicate"),
    ("bad vocabulary key", MANIFEST, _set("declaredEventTypes", 0, "key", "Incident Opened"), "$.declaredEventTypes[0].key", "dotted"),
    ("policy scope of another hub", MANIFEST, _set("declaredPolicyScopes", 0, "key", "hub:people-hub:read"), "$.declaredPolicyScopes[0].key", "ops-hub"),
    ("classification missing", MANIFEST, _set("capabilityDescription", "Operations hub."), "$.capabilityDescription", "hub_family:vsm"),
    ("unknown manifest field", MANIFEST, _set("declaredWidgetTypes", 0, "icon", "x"), "$.declaredWidgetTypes[0].icon", "unknown field"),
    ("undeclared widget type", WIDGETS, _set("widgets", 3, "type", "ops.pager"), "$.widgets[3].type", "not declared"),
    ("duplicate widget name", WIDGETS, _set("widgets", 1, "name", "open-incidents"), "$.widgets[1].name", "duplicate"),
    ("widgets for another hub", WIDGETS, _set("hub", "people-hub"), "$.hub", "people-hub"),
    ("config not an object", WIDGETS, _set("widgets", 0, "config", [1, 2]), "$.widgets[0].config", "dictionary"),
]


@pytest.mark.parametrize(("case", "file", "change", "path", "words"), BAD_SEEDS, ids=[c[0] for c in BAD_SEEDS])
def test_bad_seed_names_file_and_path(
    tmp_path: Path, case: str, file: str, change: Callable[[Any], None], path: str, words: str
) -> None:
    directory = _copy(tmp_path)
    _edit(directory, file, change)
    with pytest.raises(SeedError) as caught:
        load_seeds(directory)
    problems = caught.value.problems
    hits = [p for p in problems if p.file.name == file and p.path == path]
    assert hits, f"{case}: expected a problem at {file} {path}, got {[str(p) for p in problems]}"
    assert words.lower() in hits[0].message.lower(), str(hits[0])


def test_broken_json_names_line_and_column(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / WIDGETS).write_text('{"hub": "ops-hub", "widgets": [,]}')
    with pytest.raises(SeedError) as caught:
        load_seeds(directory)
    (problem,) = caught.value.problems
    assert problem.file.name == WIDGETS and problem.path == "$"
    assert "invalid JSON at line 1 column" in problem.message


def test_duplicate_json_keys_are_named(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    text = (directory / HUB).read_text().replace('"slug": "ops-hub",', '"slug": "ops-hub", "slug": "ops",')
    (directory / HUB).write_text(text)
    with pytest.raises(SeedError) as caught:
        load_seeds(directory)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("$.hub.slug", "key given more than once in this object")
    ]


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / WIDGETS).unlink()
    (directory / MANIFEST).write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(SeedError) as caught:
        load_seeds(directory)
    messages = [str(p) for p in caught.value.problems]
    assert any("no seed file matching '*-widgets.seed.json'" in m for m in messages), messages
    assert any(MANIFEST in m and "not UTF-8" in m for m in messages), messages


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(directory, HUB, _set("hub", "slug", "BAD"))
    _edit(directory, MANIFEST, _set("version", "x"))
    with pytest.raises(SeedError) as caught:
        load_seeds(directory)
    assert {p.path for p in caught.value.problems} >= {"$.hub.slug", "$.version"}


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def test_cli_seeds_check(tmp_path: Path) -> None:
    ok = _cli("seeds", "check")
    assert ok.returncode == 0, ok.stderr
    assert "seeds OK: hub 'ops-hub'" in ok.stdout

    directory = _copy(tmp_path)
    _edit(directory, WIDGETS, _set("widgets", 2, "type", "ops.unknown"))
    bad = _cli("seeds", "check", "--seeds", str(directory))
    assert bad.returncode == ExitCode.BAD_INPUT
    assert f"{directory / WIDGETS}: $.widgets[2].type: widget type 'ops.unknown' is not declared" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cli_seeds_schema_validates_the_seeds(tmp_path: Path) -> None:
    result = _cli("seeds", "schema", "--out", str(tmp_path / "schema"))
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "schema").iterdir())
    assert written == sorted(json_schemas())
    manifest_schema = json.loads((tmp_path / "schema" / "manifest.schema.json").read_text())
    assert "declaredWidgetTypes" in manifest_schema["properties"]
    assert manifest_schema["additionalProperties"] is False
