"""``ihub-bootstrap``: the command line. Thin: parse, dispatch, turn expected errors into
messages and exit codes (see :class:`flows.errors.ExitCode`), never a traceback for them."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from flows import probe, sqlgen
from flows.command import Parser, run, seeds_arg
from flows.console import Console
from flows.errors import BadInputError, ExitCode, IhubError
from flows.seeds import check_version, json_schemas, load_seeds
from flows.settings import Settings, load_settings


def _milliseconds(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds from 0 to 10000")
    return value


# ---------------------------------------------------------------- commands


def cmd_seeds_check(args: argparse.Namespace, console: Console) -> int:
    seeds = load_seeds(args.seeds)
    if args.json:
        print(json.dumps({"ok": True, "files": seeds.digests()}, indent=2))
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
    try:
        from sandbox.config import from_args
        from sandbox.server import serve_forever
    except ImportError as exc:
        raise BadInputError(
            f"the sandbox's dependencies are not installed ({exc.name})",
            hint="pip install 'ihub-bootstrap[sandbox]' (make test does this)",
        ) from None
    serve_forever(from_args(args.sandbox_args))
    return ExitCode.OK


def _settings(args: argparse.Namespace) -> Settings:
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
    )


def _finish(report, args: argparse.Namespace, console: Console) -> int:  # noqa: ANN001
    """The result on stdout (JSON or the short summary), through the run's known secrets too."""
    from flows.apply import print_summary

    if args.json:
        text = json.dumps(report.to_json(), indent=2) + "\n"
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
    report = execute(settings, seeds, opts, console, detailed_exitcode=getattr(args, "detailed_exitcode", False))
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
        via=args.via,
    )
    return _finish(report, args, console)


def cmd_login(args: argparse.Namespace, console: Console) -> int:
    from flows.login import default_state_path, login_and_save

    settings = _settings(args)
    out = args.out or default_state_path(settings.require_base())
    login_and_save(settings, out, console, headed=True, wait_s=args.wait)
    print(out)
    return ExitCode.OK


def cmd_audit_scan(args: argparse.Namespace, console: Console) -> int:
    from flows.audit import scan_folder, secrets_on_record

    folder: Path = args.run_folder
    if not folder.is_dir():
        raise BadInputError(f"{folder} is not a run folder", where="RUN_FOLDER", hint="give a runs/<timestamp>-<id>/ folder")
    settings = _settings(args)
    consumer = None
    try:
        consumer = load_seeds(args.seeds).api_consumer.name
    except IhubError:
        console.warn("seeds not readable: keys in the key sink are not looked for")
    known = secrets_on_record(settings, args.key_sink, consumer)
    for name in args.secret_env or []:
        import os

        known.add(os.environ.get(name))
    leaks = scan_folder(folder, known.values)
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    if leaks:
        for leak in leaks:
            print(f"LEAK {leak}")
        console.warn(f"{len(leaks)} finding(s) in {folder}: do not share this run folder")
        return ExitCode.SECRET_LEAK
    print(
        f"clean: {files} file(s) in {folder} (zip entries included) hold none of {len(known.values)} known "
        "secret(s) in plain, URL or base64 form, and no unscrubbed Cookie/Set-Cookie/Authorization value"
    )
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    from flows.api_path import choose_path, run_api_doctor
    from flows.doctor import print_table, run_doctor

    settings = _settings(args)
    via, why = choose_path(settings, args.via)
    if args.via == "auto":
        console.info(f"doctor: the {'v2 bootstrap API' if via == 'api' else 'admin UI'} ({why})")
    doctor = run_api_doctor if via == "api" else run_doctor
    report = doctor(settings, load_seeds(args.seeds), console)
    if args.json:
        text = json.dumps(report.to_json(), indent=2) + "\n"
    else:
        buffer = io.StringIO()
        print_table(report.findings, buffer, api=via == "api")
        text = buffer.getvalue() + f"run folder: {report.run_folder}\n"
    sys.stdout.write(console.redact(text))
    return report.exit_code


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ihub-bootstrap",
        description="Bootstrap a hub on Inter-Hub through its admin UI: observe, then act; "
        "leave an audit trail without secrets.",
        epilog="Exit codes: 0 ok, 1 step failed, 2 changes pending (plan --detailed-exitcode), "
        "3 bad input, 4 authentication, 5 verification failed, 6 secret found in run folder, "
        "7 operator decision needed, 8 locked, 9 aborted, 10 gate closed, 11 probe failed, "
        "12 doctor mismatch, 13 stale or altered plan (apply PLAN, show).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    seeds = sub.add_parser("seeds", help="validate the seed files, or write their JSON Schema")
    seeds_sub = seeds.add_subparsers(dest="seeds_command", required=True, parser_class=Parser)
    check = seeds_sub.add_parser("check", help="validate the seeds; errors name file and JSON path")
    seeds_arg(check)
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(func=cmd_seeds_check)
    schema = seeds_sub.add_parser("schema", help="write JSON Schema of the seed files for editors")
    schema.add_argument("--out", type=Path, default=Path("seeds/schema"), metavar="DIR")
    schema.set_defaults(func=cmd_seeds_schema)

    def target(p: argparse.ArgumentParser, *, sink: bool = True) -> None:
        seeds_arg(p)
        p.add_argument("--base", help="Inter-Hub base URL (IHUB_BASE)")
        p.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
        p.add_argument("--storage-state", type=Path, metavar="PATH", help="Playwright storage state (IHUB_STORAGE_STATE)")
        p.add_argument("--session-cookie-name", metavar="NAME", help="session cookie name (default SESSION)")
        p.add_argument("--browser", type=Path, metavar="PATH", help="Chromium executable (IHUB_BROWSER)")
        p.add_argument("--runs-dir", type=Path, metavar="DIR", help="where run folders go (IHUB_RUNS_DIR, default runs/)")
        p.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for any page outcome (default 30)")
        p.add_argument(
            "--allow-insecure-http", action="store_true", help="allow plain http:// to a host other than this machine"
        )
        if sink:
            p.add_argument(
                "--key-sink", metavar="SINK", help="file:PATH | envfile:PATH | keyring (IHUB_KEY_SINK); default: a 0600 file outside the repo"
            )
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    def via(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--via", choices=["ui", "api", "auto"], default="ui",
            help="ui: the admin UI (default); api: the v2 bootstrap API (IHUB_OPERATOR_CLIENT_ID / IHUB_OPERATOR_KEY); "
            "auto: the gate probe decides (open: api, closed: ui); never the SQL fallback",
        )

    apply = sub.add_parser("apply", help="run the runbook's UI path: observe, then create only what is missing")
    target(apply)
    via(apply)
    apply.add_argument("--headed", action="store_true", help="show the browser window")
    apply.add_argument("--confirm", action="store_true", help="ask yes / skip / abort at the terminal before each write")
    apply.add_argument("--slow-mo", type=_milliseconds, metavar="MS", help="slow every browser action down by MS milliseconds")
    apply.add_argument("--yes", action="store_true", help="do not ask before writing to a target other than this machine")
    apply.add_argument("--rotate-key", action="store_true", help="regenerate the API key even if one exists")
    apply.add_argument("--update", action="store_true", help="make drifted editable fields match the seeds")
    apply.add_argument("--new-manifest-version", metavar="X", help="create and activate manifest version X")
    apply.add_argument("--no-trace", action="store_true", help="do not record a Playwright trace")
    apply.add_argument(
        "plan_file", nargs="?", type=Path, metavar="PLAN",
        help="carry out this saved plan (plan --out): observed again first, refused (exit 13) if stale or altered",
    )
    apply.set_defaults(func=cmd_apply)

    plan = sub.add_parser("plan", help="show what apply would do; read-only")
    target(plan)
    via(plan)
    plan.add_argument("--new-manifest-version", metavar="X", help="plan for manifest version X")
    plan.add_argument("--headed", action="store_true", help="show the browser window")
    plan.add_argument("--no-trace", action="store_true", help="do not record a Playwright trace")
    plan.add_argument(
        "--detailed-exitcode", action="store_true", help="exit 0 when nothing is to do, 2 when changes are pending"
    )
    plan.add_argument("--out", type=Path, metavar="PLAN", help="save the plan (0600) for review (show) and apply PLAN")
    plan.add_argument("--update", action="store_true", help="plan to make drifted editable fields match the seeds")
    plan.add_argument("--rotate-key", action="store_true", help="plan to regenerate the API key")
    plan.set_defaults(func=cmd_apply)

    show = sub.add_parser("show", help="render a saved plan for a reviewer (its seal checked)")
    show.add_argument("plan_file", type=Path, metavar="PLAN")
    show.add_argument("--json", action="store_true", help="print the plan as JSON")
    show.set_defaults(func=cmd_show)

    verify = sub.add_parser("verify", help="the runbook's validation over HTTP, read-only")
    target(verify)
    verify.add_argument("--api-consumer-id", metavar="UUID", help="default: the consumer the key sink holds a key for")
    verify.set_defaults(func=cmd_verify)

    login = sub.add_parser("login", help="log in by hand in a visible browser and save the session (0600)")
    login.add_argument("--base", help="Inter-Hub base URL (IHUB_BASE)")
    login.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
    login.add_argument("--browser", type=Path, metavar="PATH")
    login.add_argument("--allow-insecure-http", action="store_true")
    login.add_argument("--out", type=Path, metavar="PATH", help="where to save the storage state")
    login.add_argument("--wait", type=float, default=600, metavar="S", help="how long to wait for the login")
    login.set_defaults(func=cmd_login)

    doctor = sub.add_parser(
        "doctor", help="check, read-only, that every screen and element the tool uses is still there"
    )
    target(doctor, sink=False)
    via(doctor)
    doctor.set_defaults(func=cmd_doctor)

    rehearse = sub.add_parser("rehearse", help="apply and verify against a throw-away local sandbox")
    seeds_arg(rehearse)
    rehearse.add_argument("--runs-dir", type=Path, metavar="DIR")
    rehearse.add_argument("--submit", choices=["js", "native"], default="js")
    rehearse.add_argument("--gate", choices=["closed", "open"], default="closed")
    rehearse.add_argument("--schema", choices=["older", "newer"], default="older")
    rehearse.add_argument(
        "--via", choices=["ui", "api", "auto"], default="ui", help="the path to rehearse (api and auto need --gate open for the API)"
    )
    rehearse.add_argument("--json", action="store_true")
    rehearse.set_defaults(func=cmd_rehearse)

    audit = sub.add_parser("audit", help="check a run folder for secrets")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, parser_class=Parser)
    scan = audit_sub.add_parser(
        "scan",
        help="scan a run folder for every secret this machine knows (settings, storage state, key sink) "
        "and for unscrubbed sensitive headers",
    )
    scan.add_argument("run_folder", type=Path, metavar="RUN_FOLDER")
    seeds_arg(scan)
    scan.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
    scan.add_argument("--base", help="the run's Inter-Hub base URL (finds the default key sink)")
    scan.add_argument("--storage-state", type=Path, metavar="PATH")
    scan.add_argument("--key-sink", metavar="SINK")
    scan.add_argument("--secret-env", action="append", metavar="NAME", help="also look for the value of this environment variable")
    scan.set_defaults(func=cmd_audit_scan)

    probe.add_parser(sub)
    sqlgen.add_parser(sub)

    sandbox = sub.add_parser(
        "sandbox",
        help="serve the local Inter-Hub replica (same options as `python -m sandbox`)",
        add_help=False,
    )
    sandbox.add_argument("sandbox_args", nargs=argparse.REMAINDER)
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
