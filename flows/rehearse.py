"""``make rehearse``: the whole runbook against a throw-away local sandbox.

Starts the sandbox on a free loopback port with generated admin credentials, runs ``apply``
headless with a trace, then ``verify``, prints a short summary and the run folder, stops the
sandbox. Nothing of the operator's environment (IHUB_* settings, .env) is used.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flows.apply import ApplyOptions, Report, execute
from flows.console import Console
from flows.errors import BadInputError
from flows.seeds import SeedSet
from flows.settings import ExplicitSettings


def rehearse(
    seeds: SeedSet,
    console: Console,
    *,
    runs_dir: Path,
    submit: str = "js",
    gate: str = "closed",
    schema: str = "older",
    headed: bool = False,
    via: str = "ui",
    parallel: int | None = None,
) -> Report:
    try:
        from sandbox.config import SandboxConfig
        from sandbox.server import start_in_thread
    except ImportError as exc:
        raise BadInputError(
            f"the sandbox's dependencies are not installed ({exc.name})",
            hint="pip install 'ihub-bootstrap[sandbox]' (make rehearse does this)",
        ) from None
    workdir = Path(tempfile.mkdtemp(prefix="ihub-rehearsal-"))
    try:
        config = SandboxConfig(port=0, db=str(workdir / "sandbox.sqlite3"), gate=gate, submit=submit, schema=schema)  # type: ignore[arg-type]
        with start_in_thread(config) as sandbox:
            console.info(f"sandbox: {sandbox.base_url} (submit {submit}, gate {gate}, schema {schema}), credentials generated")
            settings = ExplicitSettings(
                base=sandbox.base_url,
                email=config.admin_email,
                password=config.admin_password,
                runs_dir=runs_dir,
                key_sink=f"file:{workdir / 'ops-hub.key.json'}",
                operator_client_id=config.operator_client_id,
                operator_key=config.operator_key,
            )
            options = ApplyOptions(headed=headed, trace=True, via=via)
            if parallel is not None:
                options.parallel = parallel
            return execute(settings, seeds, options, console)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
