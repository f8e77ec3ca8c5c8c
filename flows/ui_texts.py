"""UI texts as data: every visible text and path the page objects rely on, overridable by a
file, so that an Inter-Hub that names things differently needs no code change.

The defaults stay where they are read, in the ``*Texts`` classes of ``pages/`` (and
``pages.base.Ihp`` for the layout). A ui-texts file (``--ui-texts FILE`` / ``IHUB_UI_TEXTS``,
TOML or JSON) names only what differs, by section and key::

    [hubs]
    domain = "Hub domain"

    [manifests.vocabulary]
    declaredEventTypes = "Event types"

It is validated strictly (an unknown section or key is an error that names it, a path keeps
its ``{id}`` placeholders) and applied before any page object is built.
``ihub-bootstrap ui-texts`` prints the defaults as a ready-to-edit file.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import string
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, create_model

from flows.errors import BadInputError
from pages.api_consumers import ApiConsumersTexts
from pages.base import Ihp
from pages.hubs import HubsTexts
from pages.login import LoginTexts
from pages.manifests import ManifestsTexts
from pages.widgets import WidgetsTexts

TEXT_CLASSES: tuple[type, ...] = (Ihp, LoginTexts, HubsTexts, ManifestsTexts, ApiConsumersTexts, WidgetsTexts)
Texts = dict[str, dict[str, Any]]  # section -> key -> text, or key -> {name: text}

_SECTION_NOTES = {
    "layout": "what every screen shares: the login path, the password placeholder, error markup (CSS, as IHP gives these no role)",
    "login": "the login form (placeholders, no labels) and the Logout button or link of logged-in pages, on screen (the tool's own login also counts a page with no password box; a login by hand counts such a page once the hubs index opens with its session)",
    "hubs": "/Hubs: index columns, the new/edit form's labels, the show page's labels and its manifests table",
    "manifests": "hub capability manifests: form labels, show-page labels, the vocabulary's field labels and block headings",
    "api_consumers": "/ApiConsumers: index columns, form labels, show-page labels, the API key form and the one-time key field",
    "widgets": "a hub's widgets: index columns and the new-widget form",
}


def _section(cls: type) -> str:
    return str(cls.UI_TEXTS_SECTION)


def _entries(cls: type) -> dict[str, Any]:
    """The overridable texts of a ``*Texts`` class: its upper-case str and dict-of-str attributes."""
    out: dict[str, Any] = {}
    for name, value in vars(cls).items():
        if not name.isupper() or name.startswith("_") or name == "UI_TEXTS_SECTION":
            continue
        if isinstance(value, str):
            out[name.lower()] = value
        elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            out[name.lower()] = dict(value)
    return out


_DEFAULTS: Texts = {_section(cls): _entries(cls) for cls in TEXT_CLASSES}  # taken before any override
_CLASSES = {_section(cls): cls for cls in TEXT_CLASSES}


def defaults() -> Texts:
    return copy.deepcopy(_DEFAULTS)


def current() -> Texts:
    return {_section(cls): _entries(cls) for cls in TEXT_CLASSES}


# ---------------------------------------------------------------- validation


def _strict(name: str, fields: dict[str, Any]) -> type[BaseModel]:
    # field names may shadow BaseModel attributes ("config", "title"): aliases keep them as keys
    spec = {f"f_{key}": (value, Field(None, alias=key)) for key, value in fields.items()}
    return create_model(name, __config__=ConfigDict(extra="forbid"), **spec)  # type: ignore[call-overload, no-any-return]


def _model() -> type[BaseModel]:
    sections: dict[str, Any] = {}
    for section, entries in _DEFAULTS.items():
        fields: dict[str, Any] = {}
        for key, value in entries.items():
            if isinstance(value, dict):
                fields[key] = _strict(f"{section}.{key}", {name: StrictStr | None for name in value}) | None
            else:
                fields[key] = StrictStr | None
        sections[section] = _strict(section, fields) | None
    return _strict("ui-texts", sections)


def _closest(word: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _problems(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err["loc"]]
        where = ".".join(loc)
        if err["type"] == "extra_forbidden":
            known: Any = _DEFAULTS
            for part in loc[:-1]:
                known = known.get(part, {}) if isinstance(known, dict) else {}
            choices = sorted(known) if isinstance(known, dict) else []
            scope = ".".join(loc[:-1]) or "the file"
            problems.append(f"{where}: unknown key in {scope}{_closest(loc[-1], choices)}")
        elif err["type"] in ("model_type", "dict_type"):
            problems.append(f"{where}: must be a table (a section of keys), not a single value")
        elif err["type"] == "string_type":
            problems.append(f"{where}: must be a text (a quoted string)")
        else:
            problems.append(f"{where}: {err['msg']}")
    return problems


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _check_values(data: dict[str, Any]) -> list[str]:
    """What a valid type does not guarantee: texts are not empty, paths keep their placeholders,
    the key prefix is a regular expression with one group."""
    problems = []
    for section, entries in data.items():
        for key, value in (entries or {}).items():
            values = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, text in values:
                where = f"{section}.{key}" + (f".{sub}" if sub else "")
                if text is None:
                    continue
                if not text.strip():
                    problems.append(f"{where}: must not be empty")
                    continue
                default = _DEFAULTS[section][key][sub] if sub else _DEFAULTS[section][key]
                if key.endswith("_path"):
                    try:
                        wanted, given = _fields(default), _fields(text)
                    except ValueError as exc:
                        problems.append(f"{where}: {exc}")
                        continue
                    if wanted != given:
                        need = ", ".join("{" + f + "}" for f in sorted(wanted)) or "no placeholder"
                        problems.append(f"{where}: must contain {need}, like the default {default!r}")
                    elif not text.startswith("/"):
                        problems.append(f"{where}: must be a path starting with /")
                if key == "key_prefix":
                    try:
                        if re.compile(text).groups != 1:
                            problems.append(f"{where}: must be a regular expression with one group (the prefix)")
                    except re.error as exc:
                        problems.append(f"{where}: not a regular expression ({exc})")
    return problems


def parse(text: str, source: str) -> Texts:
    """A ui-texts file's content (TOML, or JSON when ``source`` ends in .json), validated."""
    try:
        data = json.loads(text) if source.endswith(".json") else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"ui-texts file {source} is not valid JSON: {exc.msg} (line {exc.lineno})", where="--ui-texts") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(
            f"ui-texts file {source} is not valid TOML: {exc}", where="--ui-texts", hint="a .json file is read as JSON"
        ) from None
    if not isinstance(data, dict):
        raise BadInputError(f"ui-texts file {source} must hold sections of keys (a JSON object)", where="--ui-texts")
    try:
        _model().model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc, data)
    else:
        problems = _check_values(data)
    if problems:
        raise BadInputError(
            f"ui-texts file {source} is not valid:\n  - " + "\n  - ".join(problems),
            where="--ui-texts / IHUB_UI_TEXTS",
            hint="`ihub-bootstrap ui-texts` prints every section and key with its default",
        )
    return {section: {k: v for k, v in entries.items() if v is not None} for section, entries in data.items() if entries}


def load(path: Path) -> Texts:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"ui-texts file {path} does not exist", where="--ui-texts / IHUB_UI_TEXTS") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"ui-texts file {path} cannot be read ({type(exc).__name__})", where="--ui-texts") from None
    return parse(text, str(path))


def apply(texts: Texts) -> None:
    """Set the texts on the ``*Texts`` classes (page objects built afterwards use them)."""
    for section, entries in texts.items():
        cls = _CLASSES[section]
        for key, value in entries.items():
            if isinstance(value, dict):
                value = {**getattr(cls, key.upper()), **{k: v for k, v in value.items() if v is not None}}
            setattr(cls, key.upper(), value)


def reset() -> None:
    """Back to the defaults (for callers that apply overrides in a long-lived process)."""
    apply(defaults())


def use(path: Path | None) -> None:
    """Apply the ui-texts file, if any, over the defaults."""
    reset()
    if path is not None:
        apply(load(path))


# ---------------------------------------------------------------- the defaults as a file


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def to_toml(texts: Texts | None = None) -> str:
    texts = texts if texts is not None else defaults()
    lines = [
        "# ihub-bootstrap ui-texts: the visible texts and paths the page objects look for.",
        "# Keep only what your Inter-Hub names differently and pass the file with --ui-texts FILE",
        "# (or IHUB_UI_TEXTS). Texts are compared as a person reads them: case, spacing, a trailing",
        "# ':' or a required-field '*' do not count. `ihub-bootstrap doctor` names the key to set",
        "# for every element it cannot find, with what the screen offers instead.",
    ]
    for section, entries in texts.items():
        lines += ["", f"# {_SECTION_NOTES.get(section, section)}", f"[{section}]"]
        lines += [f"{_toml_key(k)} = {_toml_string(v)}" for k, v in entries.items() if not isinstance(v, dict)]
        for key, table in entries.items():
            if isinstance(table, dict):
                lines += ["", f"[{section}.{key}]"]
                lines += [f"{_toml_key(k)} = {_toml_string(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
