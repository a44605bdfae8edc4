"""The real engine: a stack driven through the Automation API and the Pulumi CLI.

Used only where `pulumi` is on PATH. The project is linked into a temporary directory so
the stack file and the file backend never land in the checkout; secrets use a passphrase.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from pg_tenants.local.server import RunningPostgres
from tests.support.stack import NS, StackConfig, write_tenant_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT_ENTRIES = ("Pulumi.yaml", "__main__.py", "components", "pg_tenants", "venv", "requirements.txt")
CLI_MISSING = "the Pulumi CLI is not on PATH (it cannot be installed on these machines); engine tier skipped"


def cli_available() -> bool:
    return shutil.which("pulumi") is not None


class CliDeployment:
    """The same interface as `tests.support.deployment.Deployment`, through `pulumi up`."""

    def __init__(self, pg: RunningPostgres, stack: StackConfig, work_dir: Path, *, stack_name: str = "engine",
                 beside: CliDeployment | None = None) -> None:
        """`beside`: another stack of the same project directory and backend (a sharded fleet)."""
        self.pg, self.stack_config, self.work_dir, self.stack_name = pg, stack, work_dir, stack_name
        if beside is None:
            work_dir.mkdir(parents=True, exist_ok=True)
            for entry in PROJECT_ENTRIES:
                if (PROJECT_DIR / entry).exists():
                    (work_dir / entry).symlink_to(PROJECT_DIR / entry)
            backend = work_dir / "backend"
            backend.mkdir()
            self.env = {
                "PULUMI_BACKEND_URL": f"file://{backend}",
                "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
                "PULUMI_SKIP_UPDATE_CHECK": "true",
            }
        else:
            assert beside.work_dir == work_dir
            self.env = beside.env
        self.stack = auto.create_or_select_stack(stack_name, work_dir=str(work_dir), opts=auto.LocalWorkspaceOptions(env_vars=self.env))
        self.outputs: Mapping[str, Any] = {}

    def write(self, tenants: list[Mapping[str, Any]]) -> None:
        write_tenant_file(self.stack_config.tenants_dir, "tenants.yaml", tenants)

    def _configure(self) -> None:
        # Structured and typed values go into the stack file; secrets through the CLI.
        stack_file = self.work_dir / f"Pulumi.{self.stack_name}.yaml"
        document = (yaml.safe_load(stack_file.read_text()) or {}) if stack_file.exists() else {}
        values, _ = self.stack_config.as_pulumi_config()
        plain = {k: v for k, v in values.items() if k.removeprefix(f"{NS}:") not in self.stack_config.secrets}
        document["config"] = {**{k: v for k, v in document.get("config", {}).items() if k not in plain}, **plain}
        stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
        for key, value in self.stack_config.secrets.items():
            self.stack.set_config(f"{NS}:{key}", auto.ConfigValue(value, secret=True))

    def up(self) -> auto.UpResult:
        self._configure()
        result = self.stack.up(parallel=10, on_output=lambda _line: None)
        self.outputs = result.outputs
        return result

    def preview_expects_no_changes(self) -> auto.PreviewResult:
        self._configure()
        return self.stack.preview(expect_no_changes=True, diff=True, on_output=lambda _line: None)

    def destroy(self) -> None:
        self.stack.destroy(on_output=lambda _line: None)
        self.stack.workspace.remove_stack(self.stack_name)

    def forget(self) -> None:
        """Drop the stack without deleting anything: active tenants' roles are protected, and
        the caller resets the server itself."""
        self.stack.workspace.remove_stack(self.stack_name, force=True)

    @property
    def connections(self) -> dict[str, dict[str, Any]]:
        output = self.outputs["connections"]
        assert output.secret
        return output.value
