"""``ihub-bootstrap sql``: the runbook's SQL fallback, ``ops-hub-bootstrap.sql``, rendered from
the same validated seeds as the UI path.

One PostgreSQL script for an operator to run through ``psql``: one transaction, stops at the
first error (so a failure changes nothing), idempotent (a second run changes nothing: every
insert is guarded by the natural key the schema makes unique). It writes what activation in
the admin UI writes (``sandbox/manifests.py`` ``activate`` is the reference) and no API key.

Quoting: every seed value becomes a standard SQL string literal through :func:`literal`, the
one place that quotes data; JSON is such a literal cast to ``::jsonb``. The script sets
``standard_conforming_strings`` itself, so a backslash in a value is just a backslash. Values
never go into dollar quotes except as literals inside a ``DO`` body, whose tag is chosen not to
occur in that body.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flows.command import Parser, run, seeds_arg
from flows.console import Console
from flows.audit import tool_version
from flows.errors import BadInputError, ExitCode
from flows.seeds import SeedSet, load_seeds

VSM_COLUMNS = ("hub_family", "vsm_function", "vsm_system")
# (registry table, manifest column, label in messages); policy scopes have no "name" column.
REGISTRIES = (
    ("widget_types", "declared_widget_types", "widget type"),
    ("event_types", "declared_event_types", "event type"),
    ("annotation_categories", "declared_annotation_categories", "annotation category"),
)
MANIFEST_COLUMNS = (
    ("declared_widget_types", "declaredWidgetTypes"),
    ("declared_event_types", "declaredEventTypes"),
    ("declared_annotation_categories", "declaredAnnotationCategories"),
    ("declared_policy_scopes", "declaredPolicyScopes"),
)


# ---------------------------------------------------------------- quoting


def literal(value: str) -> str:
    """``value`` as a standard SQL string literal (standard_conforming_strings on).

    Doubling single quotes is all it takes: with standard conforming strings a backslash has
    no meaning inside '...', and psql does not interpolate variables or run backslash
    commands inside a quoted literal.
    """
    if "\x00" in value:
        raise BadInputError(
            "a seed value contains a NUL character, which PostgreSQL text cannot hold",
            where=f"seed value starting {value[:40]!r}",
            hint="remove the \\u0000 from the seed file",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError(
            "a seed value is not valid Unicode (a lone surrogate escape like \\ud800)",
            where=f"seed value starting {value[:40]!r}",
            hint="fix the \\u escape in the seed file",
        ) from None
    return "'" + value.replace("'", "''") + "'"


def _no_nul(value: Any) -> None:
    """JSON text would carry a NUL as the escape \\u0000, which jsonb refuses; catch it here."""
    if isinstance(value, str):
        literal(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k)
            _no_nul(v)
    elif isinstance(value, list):
        for v in value:
            _no_nul(v)


def json_literal(value: Any) -> str:
    """``value`` as JSON text in a string literal, cast to jsonb."""
    _no_nul(value)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    except ValueError:
        raise BadInputError(
            "a seed value is NaN or Infinity, which JSON (and jsonb) cannot hold",
            where="widget config or vocabulary in the seeds",
            hint="use a number or a string instead",
        ) from None
    return literal(text) + "::jsonb"


def dollar_quoted(body: str) -> str:
    """``body`` between dollar quotes whose tag does not occur in it (it would end the body early)."""
    tag, n = "$ihub$", 0
    while tag in body:
        n += 1
        tag = f"$ihub{n}$"
    return f"{tag}\n{body}\n{tag}"


def do_block(body: str) -> str:
    return f"DO {dollar_quoted(body)};"


def comment(text: str) -> str:
    """``text`` made safe for a ``--`` comment: no line breaks or control characters."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _values(rows: Iterable[tuple[str, ...]], indent: str = "  ") -> str:
    return ",\n".join(f"{indent}({', '.join(row)})" for row in rows)


# ---------------------------------------------------------------- the script's parts


def default_name(seeds: SeedSet) -> str:
    """The runbook's file name: ops-hub-bootstrap.sql for the ops-hub seeds."""
    return f"{seeds.hub.slug}-bootstrap.sql"


def _header(seeds: SeedSet, name: str) -> str:
    hub, manifest, consumer = seeds.hub, seeds.manifest, seeds.api_consumer
    files = "\n".join(f"--   {comment(path)}\n--     sha256 {digest}" for path, digest in seeds.digests().items())
    vsm = ", ".join(VSM_COLUMNS)
    scopes = " ".join(consumer.key_scopes)
    return f"""\
-- {comment(name)}: the SQL fallback of the {comment(hub.slug)} bootstrap runbook (PostgreSQL 13 or newer).
--
-- Generated by ihub-bootstrap {comment(tool_version())} from these validated seed files; do not edit,
-- change the seeds and run `ihub-bootstrap sql` again:
{files}
--
-- In one transaction (all or nothing), and idempotent (running it again changes nothing), it creates:
--   - the hub {comment(hub.slug)}, with the first-class VSM metadata columns ({vsm}) set where this
--     Inter-Hub's hubs table has them; the classification "{comment(hub.classification())}" is always
--     in the manifest's capability description;
--   - its capability manifest {comment(manifest.version)} with the four declared* vocabulary lists, activated as the
--     admin UI activates it: another active manifest of the hub is retired and the hub's entries in
--     widget_types, event_types, annotation_categories and policy_scopes are replaced by this one's;
--   - the API consumer {comment(consumer.name)}, bound to the active manifest;
--   - the {len(seeds.widgets)} seed widgets.
-- Rows that already exist are left as they are, except a draft of manifest {comment(manifest.version)}, which is made to
-- match the seeds (`ihub-bootstrap plan` shows any other drift). It stops and changes nothing when a
-- vocabulary key or policy scope is registered by another hub, when manifest {comment(manifest.version)} is retired,
-- or when the API consumer name belongs to another hub.
--
-- It does NOT create the API key: Inter-Hub shows the one-time key only when it is generated in the
-- authenticated admin UI, and it must go to the operator's secret store, never into Git or a file like this.
--
-- Run it (runbook, "SQL Fallback Path") from a shell with access to the database's cluster:
--   kubectl exec -i -n databases net-kingdom-pg-1 -- \\
--     psql -U postgres -d interhub < {comment(name)}
-- or, with a direct connection:  psql -v ON_ERROR_STOP=1 -d interhub -f {comment(name)}
--
-- Then generate the API key (scopes: {comment(scopes)}):
--   - `ihub-bootstrap apply` finds the hub, manifest, consumer and widgets present and only generates
--     the key, straight into its key sink; it ends with the runbook's validation; or
--   - in the admin UI: /ApiConsumers, consumer {comment(consumer.name)}, generate a key; store it in the operator
--     secret store, then run `ihub-bootstrap verify`.
"""


def _preamble() -> str:
    return """\
\\set ON_ERROR_STOP on
-- The quoting of every value below relies on these two; psql sends the file as UTF-8.
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

BEGIN;
-- Production: wait at most this long for a lock held by the running application, then fail (nothing changed).
SET LOCAL lock_timeout = '10s';
"""


def _preflight(seeds: SeedSet) -> str:
    """Fail before any write when the script would steal what belongs to another hub."""
    slug, version, consumer = literal(seeds.hub.slug), literal(seeds.manifest.version), literal(seeds.api_consumer.name)
    labels = dict((column, label) for _, column, label in REGISTRIES) | {"declared_policy_scopes": "policy scope"}
    vocabulary = seeds.manifest.vocabulary()
    keys = [
        (literal(labels[column]), literal(entry["key"]))
        for column, field in MANIFEST_COLUMNS
        for entry in vocabulary[field]
    ]
    registries = "\n    UNION ALL ".join(
        f"SELECT {literal(label)} AS what, key, hub_id FROM {table}"
        for table, _, label in (*REGISTRIES, ("policy_scopes", "", "policy scope"))
    )
    clash_check = ""
    if keys:
        clash_check = f"""
  -- A vocabulary key or policy scope of the seeds registered by another hub: activation would take it away.
  SELECT r.what, r.key, h.slug AS owner INTO clash
  FROM (
    {registries}
  ) AS r
  JOIN hubs AS h ON h.id = r.hub_id
  JOIN (VALUES
{_values(keys, "    ")}
  ) AS s(what, key) ON s.what = r.what AND s.key = r.key
  WHERE h.slug <> {slug}
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ihub-bootstrap: % % is already registered by hub %; nothing was changed', clash.what, clash.key, clash.owner
      USING HINT = 'rename the key in the seeds, or retire it on hub ' || clash.owner || ' first';
  END IF;
"""
    body = f"""\
DECLARE
  clash record;
  found_status text;
  consumer_hub text;
BEGIN{clash_check}
  -- A retired manifest of the seeds' version cannot become active again.
  SELECT m.status INTO found_status
  FROM hub_capability_manifests AS m JOIN hubs AS h ON h.id = m.hub_id
  WHERE h.slug = {slug} AND m.version = {version};
  IF found_status IS NOT NULL AND found_status NOT IN ('draft', 'active') THEN
    RAISE EXCEPTION 'ihub-bootstrap: manifest % of hub % is %; nothing was changed', {version}, {slug}, found_status
      USING HINT = 'give the manifest seed a new version';
  END IF;

  -- The API consumer's name is unique across hubs: one bound to another hub is not ours to reuse.
  SELECT h.slug INTO consumer_hub
  FROM api_consumers AS c
  JOIN hub_capability_manifests AS m ON m.id = c.hub_capability_manifest_id
  JOIN hubs AS h ON h.id = m.hub_id
  WHERE c.name = {consumer};
  IF consumer_hub IS NOT NULL AND consumer_hub <> {slug} THEN
    RAISE EXCEPTION 'ihub-bootstrap: API consumer % belongs to hub %; nothing was changed', {consumer}, consumer_hub
      USING HINT = 'give the API consumer seed another name';
  END IF;
END"""
    return "-- 0. Pre-flight checks: nothing is written when one fails.\n" + do_block(body) + "\n"


def _hub(seeds: SeedSet) -> str:
    hub = seeds.hub
    return f"""\
-- 1. The hub.
INSERT INTO hubs (id, name, slug, domain, kind, created_at, updated_at)
SELECT gen_random_uuid(), {literal(hub.name)}, {literal(hub.slug)}, {literal(hub.domain)}, {literal(hub.kind)}, now(), now()
WHERE NOT EXISTS (SELECT 1 FROM hubs WHERE slug = {literal(hub.slug)});
"""


def _vsm_columns(seeds: SeedSet) -> str:
    hub = seeds.hub
    wanted = {c: getattr(hub, c) for c in VSM_COLUMNS if getattr(hub, c) is not None}
    if not wanted:
        return "-- 1b. The seeds give no VSM metadata for the hub's first-class columns.\n"
    body = f"""\
DECLARE
  wanted constant jsonb := {json_literal(wanted)};
  col text;
  present int := 0;
BEGIN
  -- Older Inter-Hub schemas have no such columns: only the manifest description carries the classification.
  FOR col IN
    SELECT column_name FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'hubs'
      AND column_name IN (SELECT jsonb_object_keys(wanted))
  LOOP
    present := present + 1;
    EXECUTE format('UPDATE hubs SET %I = %L, updated_at = now() WHERE slug = %L AND %I IS DISTINCT FROM %L',
                   col, wanted ->> col, {literal(hub.slug)}, col, wanted ->> col);
  END LOOP;
  IF present = 0 THEN
    RAISE NOTICE 'ihub-bootstrap: hubs has no first-class VSM columns (older schema); the classification is in the manifest description';
  END IF;
END"""
    return "-- 1b. The hub's first-class VSM metadata, where the hubs table has those columns.\n" + do_block(body) + "\n"


def _manifest(seeds: SeedSet) -> str:
    """As the UI path: create the draft (version, description, contact), then give it the vocabulary."""
    hub, m = seeds.hub, seeds.manifest
    vocabulary = m.vocabulary()
    slug, version = literal(hub.slug), literal(m.version)
    lists = {column: json_literal(vocabulary[field]) for column, field in MANIFEST_COLUMNS}
    seed_values = ",\n    ".join([literal(m.capability_description), literal(m.contact), *lists.values()])
    sets = ",\n  ".join(f"{column} = s.{column}" for column in lists)
    live = ", ".join(f"m.{column}::jsonb" for column in lists)
    wanted = ", ".join(f"s.{column}" for column in lists)
    return f"""\
-- 2. The capability manifest: a draft, then the seeds' description, contact and vocabulary.
INSERT INTO hub_capability_manifests
  (id, hub_id, version, capability_description, contact, {", ".join(lists)}, status, created_at, updated_at)
SELECT gen_random_uuid(), h.id, {version}, {literal(m.capability_description)}, {literal(m.contact)},
  '[]', '[]', '[]', '[]', 'draft', now(), now()
FROM hubs AS h
WHERE h.slug = {slug}
  AND NOT EXISTS (SELECT 1 FROM hub_capability_manifests AS m WHERE m.hub_id = h.id AND m.version = {version});

-- Only a draft is changed (also one left by an earlier, interrupted bootstrap); an active manifest never is.
UPDATE hub_capability_manifests AS m SET
  capability_description = s.capability_description,
  contact = s.contact,
  {sets},
  updated_at = now()
FROM hubs AS h, (VALUES (
    {seed_values}
  )) AS s(capability_description, contact, {", ".join(lists)})
WHERE h.id = m.hub_id AND h.slug = {slug} AND m.version = {version} AND m.status = 'draft'
  AND (m.capability_description, m.contact, {live})
      IS DISTINCT FROM (s.capability_description, s.contact, {wanted});
"""


def _activation(seeds: SeedSet) -> str:
    slug, version = literal(seeds.hub.slug), literal(seeds.manifest.version)
    inserts = "\n".join(
        f"""\
  INSERT INTO {table} (id, hub_id, hub_capability_manifest_id, key, name, description, created_at)
  SELECT gen_random_uuid(), seed_manifest.hub_id, seed_manifest.id, e.key, e.name, coalesce(e.description, ''), now()
  FROM jsonb_to_recordset(seed_manifest.{column}::jsonb) AS e(key text, name text, description text);"""
        for table, column, _ in REGISTRIES
    )
    deletes = "\n".join(
        f"  DELETE FROM {table} WHERE hub_id = seed_manifest.hub_id;"
        for table in (*(t for t, _, _ in REGISTRIES), "policy_scopes")
    )
    body = f"""\
DECLARE
  seed_manifest hub_capability_manifests%ROWTYPE;
BEGIN
  SELECT m.* INTO STRICT seed_manifest
  FROM hub_capability_manifests AS m JOIN hubs AS h ON h.id = m.hub_id
  WHERE h.slug = {slug} AND m.version = {version};
  IF seed_manifest.status = 'active' THEN
    RAISE NOTICE 'ihub-bootstrap: manifest % of hub % is already active', {version}, {slug};
    RETURN;
  END IF;
  -- One active manifest per hub: the previous one is retired, its registry entries replaced.
  UPDATE hub_capability_manifests SET status = 'retired', updated_at = now()
  WHERE hub_id = seed_manifest.hub_id AND status = 'active';
{deletes}
{inserts}
  INSERT INTO policy_scopes (id, hub_id, hub_capability_manifest_id, key, description, created_at)
  SELECT gen_random_uuid(), seed_manifest.hub_id, seed_manifest.id, e.key, coalesce(e.description, ''), now()
  FROM jsonb_to_recordset(seed_manifest.declared_policy_scopes::jsonb) AS e(key text, description text);
  UPDATE hub_capability_manifests SET status = 'active', activated_at = now(), updated_at = now()
  WHERE id = seed_manifest.id;
END"""
    return "-- 3. Activation, as the admin UI does it: publishes the manifest's vocabulary in the registries.\n" + do_block(body) + "\n"


def _consumer(seeds: SeedSet) -> str:
    c = seeds.api_consumer
    slug, version = literal(seeds.hub.slug), literal(seeds.manifest.version)
    return f"""\
-- 4. The API consumer, bound to the active manifest. No API key: see the header.
INSERT INTO api_consumers (id, name, description, hub_capability_manifest_id, created_at)
SELECT gen_random_uuid(), {literal(c.name)}, {literal(c.description)}, m.id, now()
FROM hub_capability_manifests AS m JOIN hubs AS h ON h.id = m.hub_id
WHERE h.slug = {slug} AND m.version = {version} AND m.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM api_consumers WHERE name = {literal(c.name)});
"""


def _widgets(seeds: SeedSet) -> str:
    if not seeds.widgets:
        return "-- 5. The widget seed lists no widgets.\n"
    rows = [(literal(w.name), literal(w.title), literal(w.type), json_literal(w.config)) for w in seeds.widgets]
    return f"""\
-- 5. The seed widgets that are missing.
INSERT INTO widgets (id, hub_id, name, title, widget_type, config, created_at)
SELECT gen_random_uuid(), h.id, w.name, w.title, w.widget_type, w.config, now()
FROM hubs AS h
CROSS JOIN (VALUES
{_values(rows)}
) AS w(name, title, widget_type, config)
WHERE h.slug = {literal(seeds.hub.slug)}
  AND NOT EXISTS (SELECT 1 FROM widgets AS x WHERE x.hub_id = h.id AND x.name = w.name);
"""


def _summary(seeds: SeedSet) -> str:
    slug, version = literal(seeds.hub.slug), literal(seeds.manifest.version)
    return f"""\
-- What is there now. api_consumer_id is the client_id of the runbook's token request.
SELECT h.slug AS hub, m.version AS manifest, m.status AS manifest_status, c.id AS api_consumer_id,
       (SELECT count(*) FROM widgets AS w WHERE w.hub_id = h.id) AS widgets
FROM hubs AS h
LEFT JOIN hub_capability_manifests AS m ON m.hub_id = h.id AND m.version = {version}
LEFT JOIN api_consumers AS c ON c.name = {literal(seeds.api_consumer.name)}
WHERE h.slug = {slug};
"""


def render(seeds: SeedSet, name: str | None = None) -> str:
    """The whole script for ``seeds``; ``name`` is the file name its header tells the operator to run."""
    parts = [
        _header(seeds, name or default_name(seeds)),
        _preamble(),
        _preflight(seeds),
        _hub(seeds),
        _vsm_columns(seeds),
        _manifest(seeds),
        _activation(seeds),
        _consumer(seeds),
        _widgets(seeds),
        "COMMIT;\n",
        _summary(seeds),
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------- the command


def write_script(path: Path, script: str) -> None:
    """Write atomically: an interrupted run leaves the previous script, not half of a new one."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(script)
        os.chmod(tmp, 0o644)  # no secret in it; mkstemp's 0600 would hide it from the operator's tooling
        os.replace(tmp, path)
    except OSError as exc:
        raise BadInputError(
            f"cannot write the SQL script: {exc.strerror or exc}",
            where=str(path),
            hint="pass --out with a writable path, or --out - for stdout",
        ) from None


def cmd_sql(args: argparse.Namespace, console: Console) -> int:
    seeds = load_seeds(args.seeds)
    if args.out == "-":
        sys.stdout.write(render(seeds))
        sys.stdout.flush()
        return ExitCode.OK
    path = Path(args.out) if args.out else Path(default_name(seeds))
    script = render(seeds, path.name)
    write_script(path, script)
    digest = hashlib.sha256(script.encode("utf-8")).hexdigest()
    if getattr(args, "json", False):
        from flows.command import envelope

        body = {"ok": True, "seeds": str(seeds.directory), "file": str(path), "sha256": digest}
        print(json.dumps(envelope("sql", ExitCode.OK, body), indent=2))
        return ExitCode.OK
    print(path)
    console.info(
        f"wrote {path} (sha256 {digest}) from the seeds in {seeds.directory}: run it with "
        f"`psql -v ON_ERROR_STOP=1 -d interhub -f {path.name}` (see its header); it creates no API key: "
        "generate that with `ihub-bootstrap apply` or in the admin UI"
    )
    return ExitCode.OK


def configure(p: argparse.ArgumentParser) -> None:
    seeds_arg(p)
    p.add_argument(
        "--out",
        metavar="PATH",
        help="where to write the script (default: <hub slug>-bootstrap.sql here, i.e. ops-hub-bootstrap.sql; - for stdout)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (the file written), errors included")
    p.set_defaults(func=cmd_sql)


DESCRIPTION = (
    "Render the runbook's SQL fallback from the validated seeds: one idempotent PostgreSQL script "
    "(one transaction) creating the hub, the active manifest, the registry entries, the API consumer "
    "and the widgets, for an operator to run with psql. It creates no API key."
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``sql`` on the CLI's subparsers."""
    p = sub.add_parser(
        "sql",
        help="write the SQL fallback (ops-hub-bootstrap.sql) from the seeds",
        description=DESCRIPTION,
        epilog="exit codes:\n   0  the script was written\n   3  bad input (seeds, --out)",
    )
    configure(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m flows.sqlgen [--seeds DIR] [--out PATH]``: the same as ``ihub-bootstrap sql``."""
    parser = Parser(prog="python -m flows.sqlgen", description=DESCRIPTION)
    configure(parser)
    return run(cmd_sql, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
