# PYTHON_ARGCOMPLETE_OK
"""``ihub-bootstrap``: the command line. Thin: parse, dispatch, turn expected errors into
messages and exit codes (see :class:`flows.errors.ExitCode`), never a traceback for them."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import argcomplete

from flows import probe, sqlgen
from flows.audit import tool_version
from flows.command import Parser, envelope, run, seeds_arg
from flows.console import Console, readers_may_leave
from flows.errors import BadInputError, ExitCode, IhubError
from flows.seeds import check_version, json_schemas, load_seeds
from flows.settings import MANUAL_LOGIN_S, Settings, load_settings


def _milliseconds(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds from 0 to 10000")
    return value


def _pages(text: str) -> int:
    from flows.settings import MAX_PARALLEL

    value = int(text) if text.isdigit() else -1
    if not 1 <= value <= MAX_PARALLEL:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of browser pages from 1 to {MAX_PARALLEL}")
    return value


# ---------------------------------------------------------------- commands


def cmd_seeds_check(args: argparse.Namespace, console: Console) -> int:
    seeds = load_seeds(args.seeds)
    if args.json:
        body = {"ok": True, "seeds": str(args.seeds), "hub": seeds.hub.slug, "manifest_version": seeds.manifest.version, "files": seeds.digests()}
        print(json.dumps(envelope("seeds check", ExitCode.OK, body), indent=2))
    else:
        print(
            f"seeds OK: hub {seeds.hub.slug!r}, manifest {seeds.manifest.version}, "
            f"{len(seeds.manifest.declared_widget_types)} widget types, "
            f"{len(seeds.manifest.declared_event_types)} event types, "
            f"{len(seeds.manifest.declared_annotation_categories)} annotation categories, "
            f"{len(seeds.widgets)} widgets ({args.seeds})"
        )
    return ExitCode.OK


def cmd_seeds_schema(args: argparse.Namespace, console: Console) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (out / name).write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        print(out / name)
    return ExitCode.OK


def cmd_sandbox(args: argparse.Namespace, console: Console) -> int:
    from sandbox.config import from_namespace

    try:
        config = from_namespace(args)
    except ValueError as exc:
        raise BadInputError(str(exc), where="sandbox options", hint="see `ihub-bootstrap sandbox --help`") from None
    try:
        from sandbox.server import serve_forever
    except ImportError as exc:
        raise BadInputError(
            f"the sandbox's dependencies are not installed ({exc.name})",
            hint="pip install 'ihub-bootstrap[sandbox]' (make test does this)",
        ) from None
    serve_forever(config)
    return ExitCode.OK


def cmd_trace(args: argparse.Namespace, console: Console) -> int:
    from flows.browser import executable
    from flows.trace_viewer import find_trace, open_trace

    settings = _settings(args)
    trace = find_trace(args.run, settings.runs_dir)
    open_trace(trace, executable(settings), console, open_browser=not args.no_open)
    return ExitCode.OK


def _settings(args: argparse.Namespace) -> Settings:
    settings = _load_settings(args)
    from flows import ui_texts

    ui_texts.use(settings.ui_texts)  # before any page object is built
    return settings


def _load_settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        env_file=args.env_file or ".env",
        require_env_file=args.env_file is not None,
        base=getattr(args, "base", None),
        storage_state=getattr(args, "storage_state", None),
        session_cookie_name=getattr(args, "session_cookie_name", None),
        browser=getattr(args, "browser", None),
        runs_dir=getattr(args, "runs_dir", None),
        key_sink=getattr(args, "key_sink", None),
        timeout=getattr(args, "timeout", None),
        allow_insecure_http=True if getattr(args, "allow_insecure_http", False) else None,
        ui_texts=getattr(args, "ui_texts", None),
        ca_bundle=getattr(args, "ca_bundle", None),
    )


def _finish(report, args: argparse.Namespace, console: Console) -> int:  # noqa: ANN001
    """The result on stdout (JSON or the short summary), through the run's known secrets too."""
    from flows.apply import print_summary

    if args.json:
        text = json.dumps(envelope(report.command, report.exit_code, report.to_json()), indent=2) + "\n"
    else:
        buffer = io.StringIO()
        print_summary(report, buffer)
        text = buffer.getvalue()
    sys.stdout.write(console.redact(text))
    sys.stdout.flush()
    return int(report.exit_code)


def cmd_apply(args: argparse.Namespace, console: Console) -> int:
    from flows.apply import ApplyOptions, execute
    from flows.steps import Options

    seeds = load_seeds(args.seeds)
    settings = _settings(args)
    plan = args.command == "plan"
    version = getattr(args, "new_manifest_version", None)
    plan_file = getattr(args, "plan_file", None)
    if plan_file is not None:
        fixed = [f for f, on in (("--update", args.update), ("--rotate-key", args.rotate_key), ("--new-manifest-version", version)) if on]
        if fixed:
            raise BadInputError(
                f"{', '.join(fixed)} cannot change a saved plan", where="apply PLAN", hint="the plan carries its options: make a new plan with them"
            )
    opts = ApplyOptions(
        plan=plan,
        headed=getattr(args, "headed", False),
        slow_mo_ms=getattr(args, "slow_mo", 0) or 0,
        confirm=getattr(args, "confirm", False),
        yes=getattr(args, "yes", False),
        trace=not getattr(args, "no_trace", False),
        key_sink=args.key_sink,
        steps=Options(
            rotate_key=getattr(args, "rotate_key", False),
            update=getattr(args, "update", False),
            new_manifest_version=version and check_version(version, "--new-manifest-version"),
        ),
        plan_out=getattr(args, "out", None),
        plan_file=plan_file,
        via=args.via,
    )
    parallel = getattr(args, "parallel", None) or settings.parallel  # the flag, else IHUB_PARALLEL
    if parallel is not None:
        opts.parallel = parallel
    report = execute(settings, seeds, opts, console, detailed_exitcode=getattr(args, "detailed_exitcode", False))
    if not plan and version and version != seeds.manifest.version and report.exit_code == ExitCode.OK:
        console.info(new_version_note(seeds, version))
    return _finish(report, args, console)


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    from flows.plan import load_plan, render

    plan = load_plan(args.plan_file)  # an altered plan is refused (exit 13)
    if args.json:
        text = json.dumps({"file": str(args.plan_file), "intact": True, "pending": plan.pending, **plan.model_dump(mode="json")}, indent=2) + "\n"
    else:
        text = render(plan, args.plan_file)
    sys.stdout.write(text)
    return ExitCode.OK


def new_version_note(seeds, version: str) -> str:  # noqa: ANN001
    """After --new-manifest-version: the seeds still name the old version; say which line to change."""
    lines = seeds.manifest_file.read_text(encoding="utf-8").splitlines()
    line = next((i for i, text in enumerate(lines, 1) if '"version"' in text), None)
    at = f"{seeds.manifest_file}, line {line}" if line else str(seeds.manifest_file)
    return (
        f"next: manifest {version} is now the active one, but the seeds still say {seeds.manifest.version!r}: "
        f"set \"version\": \"{version}\" in {at} ($.version), or every later plan and apply stops with exit 7"
    )


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    from flows.apply import run_verify

    seeds = load_seeds(args.seeds)
    report = run_verify(_settings(args), seeds, console, key_sink=args.key_sink, consumer_id=args.api_consumer_id)
    return _finish(report, args, console)


def cmd_rehearse(args: argparse.Namespace, console: Console) -> int:
    from flows.rehearse import rehearse

    seeds = load_seeds(args.seeds)
    report = rehearse(
        seeds, console, runs_dir=args.runs_dir or Path("runs"), submit=args.submit, gate=args.gate, schema=args.schema,
        via=args.via, parallel=args.parallel,
    )
    return _finish(report, args, console)


def cmd_login(args: argparse.Namespace, console: Console) -> int:
    from flows.login import default_state_path, login_and_save

    settings = _settings(args)
    base = settings.require_base()
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise BadInputError(
            "login opens a visible browser, and there is no display (DISPLAY is not set)",
            where="login",
            hint="run it on a machine with a desktop (or over `ssh -X`, or under `xvfb-run` with a VNC viewer); "
            "or log in in any browser and put the SESSION cookie's value into IHUB_SESSION_COOKIE",
        )
    out = args.out or default_state_path(base)
    login_and_save(settings, out, console, headed=True, wait_s=args.wait)
    print(out)
    return ExitCode.OK


def cmd_audit_scan(args: argparse.Namespace, console: Console) -> int:
    from flows.audit import scan_folder, secrets_on_record

    # each folder once, however often or however it is written (runs/x, runs/x/, ./runs/x, a
    # link), and not a folder inside another one given (runs runs/x): that one reads it already
    once: dict[Path, Path] = {}
    for folder in args.run_folder:
        once.setdefault(folder.resolve(), folder)
    folders = [folder for real, folder in once.items() if not any(parent in once for parent in real.parents)]
    for folder in folders:
        if not folder.is_dir():
            raise BadInputError(f"{folder} is not a run folder", where="RUN_FOLDER", hint="give runs/<timestamp>-<id>/ folders (runs/* for all)")
    settings = _settings(args)
    consumer = None
    try:
        consumer = load_seeds(args.seeds).api_consumer.name
    except IhubError:
        console.warn("seeds not readable: keys in the default key sink are not looked for")
    known = secrets_on_record(settings, args.key_sink, consumer)
    for name in args.secret_env or []:
        if not os.environ.get(name):
            raise BadInputError(f"--secret-env {name}: that environment variable is not set", where="--secret-env")
        known.add(os.environ.get(name))
    several = len(folders) > 1
    found = {folder: scan_folder(folder, known.values) for folder in folders}
    # one finding per line; with several folders, each names its folder
    leaks = [f"{folder}/{leak}" if several else str(leak) for folder, in_folder in found.items() for leak in in_folder]
    dirty = [str(folder) for folder, in_folder in found.items() if in_folder]
    warning = f"{len(leaks)} finding(s) in {', '.join(dirty)}: do not share {'it' if len(dirty) == 1 else 'them'}"
    files = sum(1 for folder in folders for p in folder.rglob("*") if p.is_file())
    where = str(folders[0]) if not several else f"{len(folders)} run folders"
    if getattr(args, "json", False):
        code = ExitCode.SECRET_LEAK if leaks else ExitCode.OK
        body: dict[str, Any] = {"ok": not leaks}
        if not several:
            body["run_folder"] = str(folders[0])
        body.update(run_folders=[str(f) for f in folders], files=files, known_secrets=len(known.values), leaks=leaks)
        # the same findings, each with its folder however many were given (``leaks`` names the
        # folder only when there are several: kept as it was for scripts that read it)
        body["findings"] = [{"run_folder": str(folder), "where": str(leak)} for folder, in_folder in found.items() for leak in in_folder]
        print(json.dumps(envelope("audit scan", code, body), indent=2))
        if leaks:
            console.warn(warning)
        return code
    if leaks:
        for leak in leaks:
            print(f"LEAK {leak}")
        console.warn(warning)
        return ExitCode.SECRET_LEAK
    if not known:
        console.warn(
            "no secret known to look for: only unscrubbed Cookie/Set-Cookie/Authorization values were checked. "
            "Name where the run's secrets are: --env-file, --storage-state, --key-sink, --secret-env NAME"
        )
        return ExitCode.NOTHING_TO_SCAN
    print(
        f"clean: {files} file(s) in {where} (zip entries included) hold none of {len(known.values)} known "
        "secret(s), read plain and decoded (JSON, URL, HTML, base64), and no unscrubbed Cookie/Set-Cookie/"
        "Authorization value"
    )
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    from flows.api_path import choose_path, run_api_doctor
    from flows.doctor import print_table, run_doctor

    settings = _settings(args)
    via, why = choose_path(settings, args.via)
    if args.via == "auto":
        console.info(f"doctor: the {'v2 bootstrap API' if via == 'api' else 'admin UI'} ({why})")
    if via == "api":
        if args.capture is not None:
            raise BadInputError("--capture saves admin UI screens: it does not go with the API path", where="--capture / --via")
        report = run_api_doctor(settings, load_seeds(args.seeds), console)
    else:
        report = run_doctor(settings, load_seeds(args.seeds), console, capture=args.capture)
    if args.json:
        body = {"ok": report.exit_code == ExitCode.OK, "target": settings.base, **report.to_json()}
        text = json.dumps(envelope("doctor", report.exit_code, body), indent=2) + "\n"
    else:
        buffer = io.StringIO()
        print_table(report.findings, buffer, api=via == "api")
        text = buffer.getvalue() + f"run folder: {report.run_folder}\n"
        if report.capture:
            text += f"screens saved as HTML in: {report.capture}\n"
        for leak in report.capture_leaks:
            text += f"LEAK {leak}: do not share the capture folder\n"
    sys.stdout.write(console.redact(text))
    return report.exit_code


def cmd_ui_texts(args: argparse.Namespace, console: Console) -> int:
    from flows import ui_texts

    if args.check is not None:
        texts = ui_texts.load(args.check)
        count = sum(len(v) if isinstance(v, dict) else 1 for entries in texts.values() for v in entries.values())
        print(f"ui-texts OK: {args.check} sets {count} text(s)")
        return ExitCode.OK
    texts = ui_texts.defaults()
    sys.stdout.write(json.dumps(texts, indent=2, ensure_ascii=False) + "\n" if args.json else ui_texts.to_toml(texts))
    return ExitCode.OK


# ---------------------------------------------------------------- parser

LOGIN_HELP = """\
logging in (the first one set wins; each is an environment variable or a line in .env):
  IHUB_STORAGE_STATE=PATH     a session saved by `ihub-bootstrap login --base URL` (log in by hand,
                              MFA and password manager included)
  IHUB_SESSION_COOKIE=VALUE   the SESSION cookie's value, copied from a logged-in browser
                              (its name: IHUB_SESSION_COOKIE_NAME, default SESSION)
  IHUB_EMAIL=... IHUB_PASSWORD=...
                              the /NewSession form (prefer a session: no password on disk)
  apply --headed              none of these: log in by hand in the browser window
"""

ENVIRONMENT_HELP = """\
other settings (flags win over the environment, the environment over .env; an empty value is unset):
  IHUB_BASE, IHUB_KEY_SINK, IHUB_RUNS_DIR, IHUB_BROWSER, IHUB_TIMEOUT, IHUB_ALLOW_INSECURE_HTTP,
  IHUB_OPERATOR (the audit log's operator), IHUB_SEEDS (the seed directory), IHUB_UI_TEXTS (a ui-texts file), IHUB_WORK_DIR (the private 0700 work directory), IHUB_CA_BUNDLE (a PEM
  file of CAs to trust besides the system's), HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY (the
  corporate proxy, an http:// one, for the browser and the HTTP checks), NO_COLOR / FORCE_COLOR (terminal colours)
"""

EXIT_CODES = {
    0: "success",
    1: "a step failed",
    2: "changes are pending (plan --detailed-exitcode)",
    3: "bad input or configuration (seeds, settings, command line, files)",
    4: "authentication: wrong credentials, expired or invalid session",
    5: "verification failed",
    6: "a secret was found in the run folder",
    7: "an operator decision is needed: drift, an API key nobody holds, or a write skipped at the prompt",
    8: "another apply against the same target is running",
    9: "aborted: the operator at a prompt, Ctrl-C, SIGTERM or SIGHUP",
    10: "probe: the API gate is closed",
    11: "probe: no verdict",
    12: "doctor: the live UI no longer matches the page objects",
    13: "apply PLAN / show PLAN: the plan is stale or its file was altered; nothing was written",
    14: "audit scan: no secret known to look for",
}


def exit_codes(*codes: int) -> str:
    return "exit codes:\n" + "\n".join(f"  {c:>2}  {EXIT_CODES[c]}" for c in codes)


def _command(sub: Any, name: str, summary: str, description: str, codes: tuple[int, ...], epilog: str = "") -> Parser:
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog="\n\n".join(part for part in (epilog, exit_codes(*codes)) if part),
    )


def _json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout, errors included (see README, \"--json\")"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ihub-bootstrap",
        description="Bootstrap a hub on Inter-Hub through its admin UI: observe, then act; "
        "leave an audit trail without secrets.\n\n"
        "First steps: cp .env.example .env, set IHUB_BASE and one way to log in (below), then\n"
        "`ihub-bootstrap seeds check`, `ihub-bootstrap plan`, `ihub-bootstrap apply`.",
        epilog=f"{LOGIN_HELP}\n{ENVIRONMENT_HELP}\n{exit_codes(*EXIT_CODES)}\n\n"
        "`ihub-bootstrap COMMAND --help` describes a command.",
    )
    parser.add_argument(
        "--playwright-debug",
        action="store_true",
        help="let Playwright's own debug variables (DEBUG=pw:api, DEBUGP, PWDEBUG) work: they print "
        "filled passwords, the API key and cookies on stderr, past all redaction; default: ignored",
    )
    parser.add_argument("--version", action="version", version=f"ihub-bootstrap {tool_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    seeds = _command(sub, "seeds", "validate the seed files, or write their JSON Schema",
                     "The hub's seed files: `check` validates them, `schema` writes JSON Schema for editors.", (0, 3))
    seeds_sub = seeds.add_subparsers(dest="seeds_command", required=True, parser_class=Parser, metavar="COMMAND")
    check = _command(seeds_sub, "check", "validate the seeds; errors name file and JSON path",
                     "Validate the seed files strictly: unknown fields, wrong types, formats, duplicate keys, "
                     "undeclared widget types and scopes are errors naming the file and JSON path.", (0, 3))
    seeds_arg(check)
    _json_arg(check)
    check.set_defaults(func=cmd_seeds_check)
    schema = _command(seeds_sub, "schema", "write JSON Schema of the seed files for editors",
                      "Write one JSON Schema per seed file into DIR.", (0, 3))
    schema.add_argument("--out", type=Path, default=Path("seeds/schema"), metavar="DIR", help="where the schema files go")
    schema.set_defaults(func=cmd_seeds_schema)

    def target(p: argparse.ArgumentParser, *, sink: bool = True) -> None:
        seeds_arg(p)
        p.add_argument("--base", metavar="URL", help="Inter-Hub base URL, e.g. https://hub.coulomb.social (env IHUB_BASE)")
        p.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
        p.add_argument(
            "--storage-state", type=Path, metavar="PATH", help="a session saved by `ihub-bootstrap login` (env IHUB_STORAGE_STATE)"
        )
        p.add_argument(
            "--session-cookie-name", metavar="NAME", help="session cookie name (env IHUB_SESSION_COOKIE_NAME, default SESSION)"
        )
        p.add_argument(
            "--browser", type=Path, metavar="PATH", help="Chromium executable (env IHUB_BROWSER, default /usr/bin/chromium)"
        )
        p.add_argument("--runs-dir", type=Path, metavar="DIR", help="where run folders go (env IHUB_RUNS_DIR, default runs/)")
        p.add_argument(
            "--timeout", type=float, metavar="S", help="seconds to wait for any page outcome (env IHUB_TIMEOUT, default 30)"
        )
        p.add_argument(
            "--ca-bundle", type=Path, metavar="PEM", help="CA certificates to trust besides the system's (env IHUB_CA_BUNDLE)"
        )
        p.add_argument(
            "--allow-insecure-http",
            action="store_true",
            help="allow plain http:// to a host other than this machine (env IHUB_ALLOW_INSECURE_HTTP=1)",
        )
        p.add_argument(
            "--ui-texts", type=Path, metavar="FILE", help="TOML or JSON file overriding the UI texts (IHUB_UI_TEXTS; see `ui-texts`)"
        )
        if sink:
            p.add_argument(
                "--key-sink",
                metavar="SINK",
                help="file:PATH | envfile:PATH | keyring (env IHUB_KEY_SINK; default: a 0600 file under "
                "~/.local/share/ihub-bootstrap/keys/, outside the repo)",
            )
        _json_arg(p)

    def parallel_arg(p: argparse.ArgumentParser) -> None:
        from flows.settings import DEFAULT_PARALLEL, WIDGETS_PER_PAGE

        p.add_argument(
            "--parallel", type=_pages, metavar="N",
            help=f"create widgets on up to N browser pages side by side, one for every {WIDGETS_PER_PAGE} widgets "
            f"(env IHUB_PARALLEL; default {DEFAULT_PARALLEL}; 1: one at a time); "
            "each is observed before, awaited and reported by name; the API path sends them one at a time",
        )

    def via(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--via", choices=["ui", "api", "auto"], default="ui",
            help="ui: the admin UI (default); api: the v2 bootstrap API (IHUB_OPERATOR_CLIENT_ID / IHUB_OPERATOR_KEY); "
            "auto: the gate probe decides (open: api, closed: ui); never the SQL fallback",
        )

    apply = _command(
        sub, "apply", "run the runbook's UI path: observe, then create only what is missing",
        "Log in, observe every step (the plan), then create or update only what differs from the seeds, "
        "and verify over HTTP. A re-run after any failure finishes the job: nothing is created twice.",
        (0, 1, 3, 4, 5, 6, 7, 8, 9),
        LOGIN_HELP,
    )
    target(apply)
    via(apply)
    apply.add_argument("--headed", action="store_true", help="show the browser window (log in by hand without credentials)")
    apply.add_argument("--confirm", action="store_true", help="ask yes / skip / abort at the terminal before each write")
    apply.add_argument("--slow-mo", type=_milliseconds, metavar="MS", help="slow every browser action down by MS milliseconds (0..10000)")
    apply.add_argument("--yes", action="store_true", help="do not ask before writing to a target other than this machine")
    apply.add_argument("--rotate-key", action="store_true", help="revoke the API key and generate a new one, stored in the key sink")
    apply.add_argument("--update", action="store_true", help="make drifted editable fields of the hub match the seeds")
    apply.add_argument(
        "--new-manifest-version", metavar="X", help="create, fill and activate manifest version X (an active one cannot be edited)"
    )
    apply.add_argument("--no-trace", action="store_true", help="do not record a Playwright trace in the run folder")
    parallel_arg(apply)
    apply.add_argument(
        "plan_file", nargs="?", type=Path, metavar="PLAN",
        help="carry out this saved plan (plan --out): observed again first, refused (exit 13) if stale or altered",
    )
    apply.set_defaults(func=cmd_apply)

    plan = _command(
        sub, "plan", "show what apply would do; read-only",
        "Log in and observe every step, write nothing: each step is create, update, unchanged, drift "
        "or blocked, with the writes apply would make and the field-level differences.",
        (0, 1, 2, 3, 4, 6, 7),
        LOGIN_HELP,
    )
    target(plan)
    via(plan)
    plan.add_argument("--new-manifest-version", metavar="X", help="plan for manifest version X")
    plan.add_argument("--headed", action="store_true", help="show the browser window")
    plan.add_argument("--no-trace", action="store_true", help="do not record a Playwright trace in the run folder")
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing is to do, 2 when changes are pending, 7 on drift or a blocked step",
    )
    plan.add_argument("--out", type=Path, metavar="PLAN", help="save the plan (0600) for review (show) and apply PLAN")
    plan.add_argument("--update", action="store_true", help="plan to make drifted editable fields match the seeds")
    plan.add_argument("--rotate-key", action="store_true", help="plan to regenerate the API key")
    plan.set_defaults(func=cmd_apply)

    show = _command(
        sub, "show", "render a saved plan for a reviewer (its seal checked)",
        "Render a plan saved by `plan --out PLAN` for a reviewer: its target, seeds, tool version and every "
        "write with its values. The file's seal is checked first: an altered plan is refused.",
        (0, 3, 13),
    )
    show.add_argument("plan_file", type=Path, metavar="PLAN", help="a plan file written by `plan --out`")
    _json_arg(show)
    show.set_defaults(func=cmd_show)

    verify = _command(
        sub, "verify", "the runbook's validation over HTTP, read-only",
        "The runbook's validation alone, over HTTP: the registries list the seeded vocabulary, the key "
        "from the key sink gets a token, the hub registry lists the hub.",
        (0, 3, 5, 6),
    )
    target(verify)
    verify.add_argument("--api-consumer-id", metavar="UUID", help="default: the consumer the key sink holds a key for")
    verify.set_defaults(func=cmd_verify)

    login = _command(
        sub, "login", "log in by hand in a visible browser and save the session (0600)",
        "Open a visible browser at the login page; once you are logged in (password manager and MFA "
        "included), save the session as a Playwright storage state (mode 0600) and print its path. "
        "Use it with IHUB_STORAGE_STATE. Needs a display (DISPLAY); on a machine without one, log in "
        "elsewhere and copy the SESSION cookie into IHUB_SESSION_COOKIE.",
        (0, 1, 3),
    )
    login.add_argument("--base", metavar="URL", help="Inter-Hub base URL (env IHUB_BASE)")
    login.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
    login.add_argument("--browser", type=Path, metavar="PATH", help="Chromium executable (env IHUB_BROWSER)")
    login.add_argument("--ca-bundle", type=Path, metavar="PEM", help="CA certificates to trust (env IHUB_CA_BUNDLE)")
    login.add_argument(
        "--allow-insecure-http", action="store_true", help="allow plain http:// to a host other than this machine"
    )
    login.add_argument(
        "--out", type=Path, metavar="PATH", help="where to save the storage state (default: under ~/.local/share/ihub-bootstrap/)"
    )
    login.add_argument("--wait", type=float, default=MANUAL_LOGIN_S, metavar="S", help="seconds to wait for the login")
    login.set_defaults(func=cmd_login)

    doctor = _command(
        sub, "doctor", "check, read-only, that every screen and element the tool uses is still there",
        "Log in, open every screen the flow uses (never submitting a form) and check that every locator "
        "of the page objects resolves to exactly one element. Run it after each Inter-Hub release.",
        (0, 1, 3, 4, 6, 12),
    )
    target(doctor, sink=False)
    doctor.add_argument(
        "--capture",
        type=Path,
        metavar="DIR",
        help="save every screen opened as HTML (passwords and shown keys stripped, the folder scanned for secrets)",
    )
    via(doctor)
    doctor.set_defaults(func=cmd_doctor)

    texts = _command(
        sub, "ui-texts", "print the UI texts the page objects look for, as a ready-to-edit --ui-texts file (TOML)",
        "Print every visible text and path the page objects rely on, as a TOML file to edit and pass with "
        "--ui-texts FILE (env IHUB_UI_TEXTS); --check validates such a file (unknown keys are named).",
        (0, 3),
    )
    texts.add_argument("--json", action="store_true", help="print them as JSON instead")
    texts.add_argument("--check", type=Path, metavar="FILE", help="validate a ui-texts file instead")
    texts.set_defaults(func=cmd_ui_texts)

    rehearse = _command(
        sub, "rehearse", "apply and verify against a throw-away local sandbox",
        "Start a local sandbox on a free loopback port, apply the seeds to it and verify; the run "
        "folder is kept.",
        (0, 1, 3, 5, 6),
    )
    seeds_arg(rehearse)
    rehearse.add_argument("--runs-dir", type=Path, metavar="DIR", help="where run folders go (default runs/)")
    rehearse.add_argument("--submit", choices=["js", "native"], default="js", help="the sandbox's form submits")
    rehearse.add_argument("--gate", choices=["closed", "open"], default="closed", help="the sandbox's API gate")
    rehearse.add_argument("--schema", choices=["older", "newer"], default="older", help="the sandbox's hubs schema")
    rehearse.add_argument(
        "--via", choices=["ui", "api", "auto"], default="ui", help="the path to rehearse (api and auto need --gate open for the API)"
    )
    parallel_arg(rehearse)
    _json_arg(rehearse)
    rehearse.set_defaults(func=cmd_rehearse)

    audit = _command(sub, "audit", "check a run folder for secrets", "Check a run folder before sharing it.", (0, 3, 6))
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, parser_class=Parser, metavar="COMMAND")
    scan = _command(
        audit_sub, "scan",
        "scan run folders for every secret this machine knows and for unscrubbed sensitive headers",
        "Read every file of each run folder given, zip entries decompressed, for every secret this machine "
        "knows (settings, storage state, key sink) in plain, URL, HTML, JSON and base64 forms, and for "
        "unscrubbed Cookie/Set-Cookie/Authorization headers. A finding names the file, never the secret.",
        (0, 3, 6),
    )
    scan.add_argument(
        "run_folder", type=Path, nargs="+", metavar="RUN_FOLDER", help="one or more runs/<timestamp>-<id>/ folders (runs/* for all)"
    )
    seeds_arg(scan)
    scan.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
    scan.add_argument("--base", help="the run's Inter-Hub base URL (finds the default key sink)")
    scan.add_argument("--storage-state", type=Path, metavar="PATH", help="its cookies are looked for (IHUB_STORAGE_STATE)")
    scan.add_argument("--key-sink", metavar="SINK", help="every key it holds is looked for (IHUB_KEY_SINK)")
    scan.add_argument(
        "--secret-env", action="append", metavar="NAME", help="also look for the value of this environment variable (repeatable)"
    )
    _json_arg(scan)
    scan.set_defaults(func=cmd_audit_scan)

    trace = _command(
        sub, "trace", "open a run's audit trace in Playwright's trace viewer",
        "Open RUN's trace.zip in Playwright's trace viewer, shown in the Chromium this tool uses "
        "(IHUB_BROWSER, else /usr/bin/chromium). The viewer is served on 127.0.0.1 only; with "
        "--no-open, or without a display, its address is printed for any browser on this machine "
        "and it serves until Ctrl-C.",
        (0, 1, 3),
    )
    trace.add_argument("run", type=Path, metavar="RUN", help="a run folder, its trace.zip, or a run id under --runs-dir")
    trace.add_argument("--runs-dir", type=Path, metavar="DIR", help="where run folders are (env IHUB_RUNS_DIR, default runs/)")
    trace.add_argument("--browser", type=Path, metavar="PATH", help="Chromium executable (env IHUB_BROWSER)")
    trace.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
    trace.add_argument("--no-open", action="store_true", help="print the viewer's address instead of opening a browser")
    trace.set_defaults(func=cmd_trace)

    probe.add_parser(sub)
    sqlgen.add_parser(sub)

    sandbox = _command(
        sub, "sandbox", "serve the local Inter-Hub replica on loopback (as `python -m sandbox`)",
        "A local Inter-Hub replica (admin UI with IHP's markup and behaviour, and the v2 API) on "
        "loopback, for rehearsals and tests. Without --db its database is a throw-away file. It "
        "serves until stopped (Ctrl-C or SIGTERM: exit 9).",
        (0, 3, 9),
    )
    from sandbox.config import configure as sandbox_options

    sandbox_options(sandbox)
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def _playwright_debug(allowed: bool) -> None:
    from flows.browser import DEBUG_VARIABLES, PLAYWRIGHT_DEBUG_ENV

    set_here = [name for name in DEBUG_VARIABLES if os.environ.get(name)]
    if allowed:
        os.environ[PLAYWRIGHT_DEBUG_ENV] = "1"
        print(
            "warning: --playwright-debug: Playwright's debug output (stderr) shows passwords, the API key and "
            "session cookies in clear; do not share it",
            file=sys.stderr,
        )
        return
    os.environ.pop(PLAYWRIGHT_DEBUG_ENV, None)
    if set_here:
        print(
            f"note: {', '.join(set_here)} ignored for Playwright: its debug output would print secrets "
            "(pass --playwright-debug to allow it)",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)  # only acts when a shell asks for completions (_ARGCOMPLETE set)
    with readers_may_leave():
        args = parser.parse_args(argv)
        _playwright_debug(args.playwright_debug)
        return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
