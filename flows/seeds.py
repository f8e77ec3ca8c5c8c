"""The seed files as validated data.

A seed directory holds three JSON files, found by their name patterns:

- ``<slug>.hub.json``: the hub and its API consumer,
- ``<slug>-manifest.draft.json``: the capability manifest draft and its vocabulary,
- ``<slug>-widgets.seed.json``: the widgets to seed.

pydantic checks each file's shape and formats (no unknown fields, no type coercion);
:func:`cross_check` then checks what spans files (unique keys, declared widget types and
scopes, the VSM classification). Every problem names the file and the JSON path.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from flows.errors import BadInputError

M = TypeVar("M", bound=BaseModel)

PROJECT_SEEDS = Path(__file__).resolve().parent.parent / "seeds"  # this checkout's seeds (tests, bench)
# What --seeds defaults to: $IHUB_SEEDS, else ./seeds of the current directory. Never the
# installed package's location: after `pip install .` that is site-packages, with no seeds.
DEFAULT_SEEDS = Path("seeds")
SEEDS_ENV = "IHUB_SEEDS"

HUB_PATTERN = "*.hub.json"
MANIFEST_PATTERN = "*-manifest.draft.json"
WIDGETS_PATTERN = "*-widgets.seed.json"


# ---------------------------------------------------------------- formats


def _format(pattern: str, what: str, example: str, max_length: int | None = None):
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if max_length is not None and len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters, got {len(value)}")
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what} (for example {example!r})")
        return value

    return AfterValidator(check)


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_non_blank)]


def _text(max_length: int) -> Any:
    """Free text that is not blank and at most ``max_length`` characters."""
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(_non_blank)]


ShortText = _text(200)
Description = _text(500)
LongText = _text(4000)

Slug = Annotated[
    str,
    _format(r"[a-z0-9]+(?:-[a-z0-9]+)*", "a slug: lowercase letters, digits and single hyphens", "ops-hub", 63),
]
Domain = Annotated[
    str,
    _format(
        r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
        "a lowercase DNS domain name",
        "ops.coulomb.social",
    ),
]
Kind = Annotated[str, _format(r"[a-z][a-z0-9-]*", "a hub kind: lowercase word", "domain", 40)]
Version = Annotated[str, _format(r"\d+\.\d+(?:\.\d+)?", "a version: MAJOR.MINOR or MAJOR.MINOR.PATCH", "1.0")]
VocabularyKey = Annotated[
    str,
    _format(
        r"[a-z][a-z0-9]*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+",
        "a vocabulary key: dotted lowercase segments",
        "ops.incident-board",
        120,
    ),
]
Scope = Annotated[
    str,
    _format(r"(?:framework|hub:[a-z0-9]+(?:-[a-z0-9]+)*):[a-z][a-z0-9-]*", "a scope", "hub:ops-hub:read"),
]
HubScope = Annotated[
    str, _format(r"hub:[a-z0-9]+(?:-[a-z0-9]+)*:[a-z][a-z0-9-]*", "a hub policy scope", "hub:ops-hub:read")
]
Lower = Annotated[str, _format(r"[a-z][a-z0-9-]*", "a lowercase word", "vsm", 40)]
Upper = Annotated[str, _format(r"[A-Z][A-Z0-9]*", "an uppercase code", "OPS", 20)]
VsmSystem = Annotated[str, _format(r"S[1-5]", "a VSM system S1..S5", "S1")]


def check_version(value: str, where: str) -> str:
    """A manifest version given outside the seeds (--new-manifest-version), checked the same way."""
    try:
        return TypeAdapter(Version).validate_python(value)
    except ValidationError:
        raise BadInputError(f"{value!r} is not a manifest version like 1.1", where=where) from None


class SeedModel(BaseModel):
    """Strict: unknown fields and coercions (a number for a string) are errors."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


class SeedFile(SeedModel):
    schema_: str | None = Field(default=None, alias="$schema", description="JSON Schema for editors")


# ---------------------------------------------------------------- the hub and its API consumer


class HubSeed(SeedModel):
    name: ShortText
    slug: Slug
    domain: Domain
    kind: Kind
    # First-class VSM metadata: newer Inter-Hub schemas have fields for them.
    hub_family: Lower | None = None
    vsm_function: Upper | None = None
    vsm_system: VsmSystem | None = None

    def classification(self) -> str:
        """The tokens the manifest's capability description carries, e.g. ``hub_family:vsm ...``."""
        parts = [
            ("hub_family", self.hub_family),
            ("vsm_function", self.vsm_function),
            ("vsm_system", self.vsm_system),
        ]
        return " ".join(f"{k}:{v}" for k, v in parts if v is not None)


class ApiConsumerSeed(SeedModel):
    name: Slug
    description: Description
    key_scopes: Annotated[list[Scope], Field(min_length=1)]


class HubFile(SeedFile):
    hub: HubSeed
    api_consumer: ApiConsumerSeed


# ---------------------------------------------------------------- the manifest


class VocabularyEntry(SeedModel):
    key: VocabularyKey
    name: ShortText
    description: str = ""


class PolicyScopeEntry(SeedModel):
    key: HubScope
    description: str = ""


class ManifestSeed(SeedFile):
    version: Version
    capability_description: LongText
    contact: ShortText
    declared_widget_types: Annotated[list[VocabularyEntry], Field(min_length=1)]
    declared_event_types: list[VocabularyEntry]
    declared_annotation_categories: list[VocabularyEntry]
    declared_policy_scopes: list[PolicyScopeEntry]

    def vocabulary(self) -> dict[str, list[dict[str, Any]]]:
        """The four ``declared*`` lists as the JSON the manifest edit form takes."""
        fields = (
            "declared_widget_types",
            "declared_event_types",
            "declared_annotation_categories",
            "declared_policy_scopes",
        )
        return {to_camel(f): [e.model_dump(by_alias=True) for e in getattr(self, f)] for f in fields}

    def widget_type_keys(self) -> list[str]:
        return [e.key for e in self.declared_widget_types]


# ---------------------------------------------------------------- widgets


class WidgetSeed(SeedModel):
    name: Slug
    title: ShortText
    type: VocabularyKey
    config: dict[str, Any] = Field(default_factory=dict)


class WidgetsFile(SeedFile):
    hub: Slug
    widgets: list[WidgetSeed]


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class SeedProblem:
    file: Path
    path: str  # JSON path, e.g. $.declaredWidgetTypes[2].key
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class SeedError(BadInputError):
    """One or more seed files are invalid; lists every problem found."""

    def __init__(self, problems: list[SeedProblem], hint: str | None = None):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{len(problems)} problem(s) in the seed files:\n{lines}",
            hint=hint
            or "fix the seed files (`ihub-bootstrap seeds check` re-checks them; "
            "`ihub-bootstrap seeds schema` writes JSON Schema for your editor)",
        )


@dataclass(frozen=True)
class SeedSet:
    """The validated seeds of one hub."""

    directory: Path
    hub_file: Path
    manifest_file: Path
    widgets_file: Path
    hubs: HubFile
    manifest: ManifestSeed
    widget_seed: WidgetsFile

    @property
    def hub(self) -> HubSeed:
        return self.hubs.hub

    @property
    def api_consumer(self) -> ApiConsumerSeed:
        return self.hubs.api_consumer

    @property
    def widgets(self) -> list[WidgetSeed]:
        return self.widget_seed.widgets

    def files(self) -> list[Path]:
        return [self.hub_file, self.manifest_file, self.widgets_file]

    def digests(self) -> dict[str, str]:
        """sha256 of each seed file, for the audit trail."""
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in self.files()}


class _JsonObject(dict):
    """A parsed JSON object that remembers keys given more than once."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def _duplicate_keys(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    if isinstance(value, _JsonObject):
        for key in value.duplicates:
            yield path, key
        for key, child in value.items():
            yield from _duplicate_keys(child, _join(path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _duplicate_keys(child, f"{path}[{i}]")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def json_path(loc: tuple[str | int, ...]) -> str:
    path = "$"
    for part in loc:
        path = _join(path, part)
    return path


def _read_json(file: Path, problems: list[SeedProblem]) -> Any | None:
    try:
        content = file.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(SeedProblem(file, "$", f"cannot read the file: {exc.strerror or exc}"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(SeedProblem(file, "$", f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
        return None
    try:
        data = json.loads(content, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        problems.append(
            SeedProblem(file, "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        )
        return None
    for path, key in _duplicate_keys(data):
        problems.append(SeedProblem(file, _join(path, key), "key given more than once in this object"))
    return data


def _pydantic_problems(file: Path, error: ValidationError) -> list[SeedProblem]:
    problems = []
    for err in error.errors(include_url=False):
        if err["type"] == "value_error":
            message = str(err["ctx"]["error"])
        elif err["type"] == "extra_forbidden":
            message = "unknown field (not part of this seed format)"
        elif err["type"] == "missing":
            message = "required field is missing"
        else:
            message = err["msg"]
        problems.append(SeedProblem(file, json_path(tuple(err["loc"])), message))
    return problems


def _find(directory: Path, pattern: str, problems: list[SeedProblem]) -> Path | None:
    matches = sorted(directory.glob(pattern))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        problems.append(SeedProblem(directory, "$", f"no seed file matching {pattern!r}"))
    else:
        names = ", ".join(m.name for m in matches)
        problems.append(SeedProblem(directory, "$", f"more than one file matches {pattern!r}: {names}"))
    return None


def _parse(file: Path | None, model: type[M], problems: list[SeedProblem]) -> M | None:
    if file is None:
        return None
    seen = len(problems)
    data = _read_json(file, problems)
    if data is None or len(problems) > seen:
        # unreadable, not JSON, or duplicate keys: what pydantic would see is already wrong
        return None
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(file, exc))
        return None


def load_seeds(directory: Path | str | None = None) -> SeedSet:
    """Read, validate and cross-check the seeds in ``directory``; raise :class:`SeedError`."""
    directory = Path(directory) if directory is not None else PROJECT_SEEDS
    problems: list[SeedProblem] = []
    if not directory.is_dir():
        where = "" if directory.is_absolute() else f" (relative to the current directory {Path.cwd()})"
        raise SeedError(
            [SeedProblem(directory, "$", f"seed directory does not exist{where}")],
            hint="pass --seeds DIR (the directory holding *.hub.json, *-manifest.draft.json and "
            "*-widgets.seed.json) or set IHUB_SEEDS, or run from the directory that holds seeds/",
        )
    hub_file = _find(directory, HUB_PATTERN, problems)
    manifest_file = _find(directory, MANIFEST_PATTERN, problems)
    widgets_file = _find(directory, WIDGETS_PATTERN, problems)
    hubs = _parse(hub_file, HubFile, problems)
    manifest = _parse(manifest_file, ManifestSeed, problems)
    widgets = _parse(widgets_file, WidgetsFile, problems)
    if problems:
        raise SeedError(problems)
    assert hub_file and manifest_file and widgets_file and hubs and manifest and widgets
    seeds = SeedSet(directory, hub_file, manifest_file, widgets_file, hubs, manifest, widgets)
    problems = list(cross_check(seeds))
    if problems:
        raise SeedError(problems)
    return seeds


def _first_duplicates(values: list[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield i, value
        seen.add(value)


def cross_check(seeds: SeedSet) -> Iterator[SeedProblem]:
    """What no single file can check on its own."""
    hub, manifest, mfile = seeds.hub, seeds.manifest, seeds.manifest_file

    for field in ("declaredWidgetTypes", "declaredEventTypes", "declaredAnnotationCategories", "declaredPolicyScopes"):
        entries = manifest.vocabulary()[field]
        for i, key in _first_duplicates([e["key"] for e in entries]):
            yield SeedProblem(mfile, f"$.{field}[{i}].key", f"duplicate key {key!r} (each key once per list)")

    own_prefix = f"hub:{hub.slug}:"
    for i, scope in enumerate(manifest.declared_policy_scopes):
        if not scope.key.startswith(own_prefix):
            yield SeedProblem(
                mfile,
                f"$.declaredPolicyScopes[{i}].key",
                f"policy scope {scope.key!r} is not this hub's: it must start with {own_prefix!r}",
            )

    classification = hub.classification()
    if classification:
        tokens = set(manifest.capability_description.split())
        missing = [t for t in classification.split() if t not in tokens]
        if missing:
            yield SeedProblem(
                mfile,
                "$.capabilityDescription",
                f"must carry the hub's VSM classification {classification!r} "
                f"(from {seeds.hub_file.name}); missing: {' '.join(missing)}",
            )

    declared_scopes = {s.key for s in manifest.declared_policy_scopes}
    scopes = seeds.api_consumer.key_scopes
    for i, scope in _first_duplicates(scopes):
        yield SeedProblem(seeds.hub_file, f"$.apiConsumer.keyScopes[{i}]", f"scope {scope!r} listed twice")
    for i, scope in enumerate(scopes):
        if not scope.startswith("framework:") and scope not in declared_scopes:
            yield SeedProblem(
                seeds.hub_file,
                f"$.apiConsumer.keyScopes[{i}]",
                f"scope {scope!r} is neither framework:* nor declared in {mfile.name} "
                f"$.declaredPolicyScopes (declared: {', '.join(sorted(declared_scopes)) or 'none'})",
            )

    wfile = seeds.widgets_file
    if seeds.widget_seed.hub != hub.slug:
        yield SeedProblem(
            wfile, "$.hub", f"widgets are for hub {seeds.widget_seed.hub!r}, but the hub seed is {hub.slug!r}"
        )
    for i, name in _first_duplicates([w.name for w in seeds.widgets]):
        yield SeedProblem(wfile, f"$.widgets[{i}].name", f"duplicate widget name {name!r}")
    declared_types = manifest.widget_type_keys()
    for i, widget in enumerate(seeds.widgets):
        if widget.type not in declared_types:
            yield SeedProblem(
                wfile,
                f"$.widgets[{i}].type",
                f"widget type {widget.type!r} is not declared in {mfile.name} $.declaredWidgetTypes "
                f"(declared: {', '.join(declared_types)})",
            )


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each seed file, keyed by a file name editors can map."""
    return {
        "hub.schema.json": HubFile.model_json_schema(by_alias=True),
        "manifest.schema.json": ManifestSeed.model_json_schema(by_alias=True),
        "widgets.schema.json": WidgetsFile.model_json_schema(by_alias=True),
    }
