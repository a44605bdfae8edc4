"""The real engine: a stack driven through the Automation API and the Pulumi CLI.

Used only where `pulumi` is on PATH. `CliDeployment` has the interface of
`tests.support.deployment.Deployment` (the provider double), so the engine tier runs the
PostgreSQL tier's test bodies unchanged: `write`, `up` (preview first; `refresh=True` is
`pulumi up --refresh`), `refresh`, `destroy`, `last_plan`, `last_run`, `state`,
`connections`, and the same exceptions (tests/support/engine_documents.py maps them).
The project is linked into a temporary directory so the stack file and the file backend
never land in the checkout; secrets use a passphrase.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from pg_tenants.local.server import RunningPostgres
from tests.support.engine_documents import failure_from_events, plan_from_events, state_from_export
from tests.support.engine_plan import AppliedState, Plan
from tests.support.program_run import ProgramRun, StackOutput
from tests.support.stack import NS, StackConfig, write_tenant_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Linked into the work directory; Pulumi.yaml is written there (its `main` may change).
PROJECT_ENTRIES = ("__main__.py", "components", "pg_tenants", "venv", "requirements.txt")
STACK = "engine"
CLI_MISSING = "the Pulumi CLI is not on PATH (it cannot be installed on these machines); engine tier skipped"


def cli_available() -> bool:
    return shutil.which("pulumi") is not None


def _ignore(_line: str) -> None:
    pass


class CliDeployment:
    """The same interface as `tests.support.deployment.Deployment`, through the Pulumi CLI."""

    def __init__(self, pg: RunningPostgres, stack: StackConfig, work_dir: Path, *, stack_name: str = STACK,
                 beside: CliDeployment | None = None) -> None:
        """`beside`: another stack of the same project directory and backend (a sharded fleet)."""
        self.pg, self.stack, self.work_dir, self.stack_name = pg, stack, work_dir, stack_name
        self.last_plan: Plan | None = None
        self.last_run: ProgramRun | None = None
        if beside is None:
            work_dir.mkdir(parents=True, exist_ok=True)
            for entry in PROJECT_ENTRIES:
                if (PROJECT_DIR / entry).exists():
                    (work_dir / entry).symlink_to(PROJECT_DIR / entry)
            self._write_project(None)
            backend = work_dir / "backend"
            backend.mkdir()
            self.env = {
                "PULUMI_BACKEND_URL": f"file://{backend}",
                "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                # pg_tenants for a program run from another directory (the previous model).
                "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_DIR), os.environ.get("PYTHONPATH", "")) if p),
            }
        else:
            assert beside.work_dir == work_dir
            self.env = beside.env
        self.engine_stack = auto.create_or_select_stack(stack_name, work_dir=str(work_dir),
                                                        opts=auto.LocalWorkspaceOptions(env_vars=self.env))

    # ------------------------------------------------------------------ what tests call

    def write(self, tenants: list[Mapping[str, Any]]) -> None:
        write_tenant_file(self.stack.tenants_dir, "tenants.yaml", tenants)

    def up(self, parallelism: int = 10, *, skip_preview: bool = False, refresh: bool = False,
           program_dir: Path | None = None, extra_settings: Mapping[str, Any] | None = None) -> ProgramRun:
        """`pulumi preview`, then `pulumi up` (the Automation API's up skips its own preview).

        A failed preview changes nothing and raises what `Deployment.up` raises; so does a
        failed up, after which `state` is what the stack holds. `program_dir` runs another
        program (e.g. tests/fixtures/previous_model) as this project, with `extra_settings`."""
        self._configure(program_dir, extra_settings or {})
        if not skip_preview:
            self.last_plan = self._run(lambda on_event: self.engine_stack.preview(
                parallel=parallelism, refresh=refresh, diff=True, on_event=on_event, on_output=_ignore), preview=True)
        self.last_plan, result = self._run(lambda on_event: self.engine_stack.up(
            parallel=parallelism, refresh=refresh, on_event=on_event, on_output=_ignore), keep_result=True)
        outputs = {key: StackOutput(out.value, out.secret) for key, out in result.outputs.items()}
        self.last_run = ProgramRun(registrations=self.state.resources, outputs=outputs)
        return self.last_run

    def preview_expects_no_changes(self) -> Plan:
        self._configure(None, {})
        return self._run(lambda on_event: self.engine_stack.preview(
            expect_no_changes=True, diff=True, on_event=on_event, on_output=_ignore), preview=True)

    def refresh(self, parallelism: int = 10) -> AppliedState:
        """`pulumi refresh`: read every resource back and store what was read."""
        self._run(lambda on_event: self.engine_stack.refresh(parallel=parallelism, on_event=on_event, on_output=_ignore))
        return self.state

    def destroy(self) -> None:
        self._run(lambda on_event: self.engine_stack.destroy(on_event=on_event, on_output=_ignore))

    def forget(self) -> None:
        """Drop the stack without deleting anything (the caller resets the server itself)."""
        self.engine_stack.workspace.remove_stack(self.stack_name, force=True)

    @property
    def state(self) -> AppliedState:
        """What the stack holds now (`pulumi stack export --show-secrets`)."""
        return state_from_export(self.engine_stack.export_stack().deployment)

    @property
    def connections(self) -> dict[str, dict[str, Any]]:
        assert self.last_run is not None
        output = self.last_run.outputs["connections"]
        assert output.secret
        return output.value

    # ------------------------------------------------------------------ the CLI

    def _run(self, command: Callable[[Callable[[auto.EngineEvent], None]], Any], *, keep_result: bool = False,
             preview: bool = False) -> Any:
        """Run one CLI command, collecting its engine events: their plan (and the command's
        result), or the exception `Deployment` would raise."""
        events: list[auto.EngineEvent] = []
        try:
            result = command(events.append)
        except auto.CommandError as error:
            raise failure_from_events(events, self.state, str(error), preview=preview) from error
        plan = plan_from_events(events)
        return (plan, result) if keep_result else plan

    def _write_project(self, program_dir: Path | None) -> None:
        """Pulumi.yaml as the project's; `main` (a path inside the project) names another program."""
        project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
        if program_dir is not None:
            link = self.work_dir / "program"
            if link.is_symlink():
                link.unlink()
            link.symlink_to(program_dir)
            project["main"] = link.name
        (self.work_dir / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))

    def _configure(self, program_dir: Path | None, extra_settings: Mapping[str, Any]) -> None:
        """The whole stack config, as the StackConfig says now: plain and structured values in
        the stack file, secrets through the CLI (encrypted with the passphrase)."""
        self._write_project(program_dir)
        values, secret_keys = self.stack.as_pulumi_config()
        values |= {f"{NS}:{key}": value for key, value in extra_settings.items()}
        stack_file = self.work_dir / f"Pulumi.{self.stack_name}.yaml"
        # Only `config` is replaced: the file also holds the passphrase's `encryptionsalt`.
        document = (yaml.safe_load(stack_file.read_text()) or {}) if stack_file.exists() else {}
        document["config"] = {k: v for k, v in values.items() if k not in secret_keys}
        stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
        if secret_keys:
            self.engine_stack.set_all_config({k: auto.ConfigValue(str(values[k]), secret=True) for k in secret_keys})
