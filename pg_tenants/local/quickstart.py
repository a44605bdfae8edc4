"""The quick start's main job: a local PostgreSQL, a local Pulumi stack pointed at it, `pulumi up`.

Everything lives under `.pg-tenants/` in the checkout (git-ignored): the database cluster,
the file backend, the stack's passphrase. No secret is printed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from pg_tenants.local import RunningPostgres, start_persistent, write_private_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
STACK = "local"
INSTALL_URL = "https://www.pulumi.com/docs/install/"


def local_dir() -> Path:
    return Path(os.environ.get("PG_TENANTS_LOCAL_DIR", PROJECT_DIR / ".pg-tenants"))


def _private_file(path: Path, make: Callable[[], str]) -> Path:
    """The file at `path`, created once with `make()` and readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(path, make())
    return path


def _pulumi_env(state: Path) -> dict[str, str]:
    (state / "backend").mkdir(parents=True, exist_ok=True)
    passphrase = _private_file(state / "passphrase", lambda: secrets.token_urlsafe(32))
    return {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{state / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


def local_stack_config(pg: RunningPostgres) -> dict[str, object]:
    """The non-secret stack config for the local server (secrets are set through the CLI)."""
    return {
        "pg-tenants:servers": {
            "local": {
                "host": pg.host,
                "port": pg.port,
                "adminDatabase": pg.admin_database,
                "adminUsername": pg.admin_user,
                "adminPasswordSecret": "localAdminPassword",
                "sslmode": "disable",  # loopback only
                "superuser": True,
                "databases": ["app"],
            }
        },
        "pg-tenants:defaultServer": "local",
    }


def _configure_stack(pulumi: str, pg: RunningPostgres, env: dict[str, str], state: Path) -> None:
    def cli(*args: str, stdin: str | None = None) -> None:
        subprocess.run([pulumi, *args], cwd=PROJECT_DIR, env=env, input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)

    cli("stack", "select", "--create", STACK)
    stack_file = PROJECT_DIR / f"Pulumi.{STACK}.yaml"
    document = (yaml.safe_load(stack_file.read_text()) or {}) if stack_file.exists() else {}
    document.setdefault("config", {}).update(local_stack_config(pg))
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    # Values go through stdin, never the command line (visible in `ps`).
    assert pg.password_file is not None
    cli("config", "set", "--secret", "pg-tenants:localAdminPassword", stdin=pg.password_file.read_text().strip())
    example_password = _private_file(state / "initech-password", lambda: secrets.token_urlsafe(24))
    cli("config", "set", "--secret", "pg-tenants:initechPassword", stdin=example_password.read_text())


def main(argv: Sequence[str]) -> int:
    state = local_dir()
    pg = start_persistent(state / "postgres", databases=["app"])
    print(f"Local PostgreSQL {pg.major} is running on {pg.host}:{pg.port} (admin password in {pg.password_file}).")
    print(f"Stop it with: venv/bin/python -m pg_tenants.local stop --data-dir {state / 'postgres'}")
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        print(
            f"The Pulumi CLI is not installed, so `pulumi up` cannot run. Install it from {INSTALL_URL} "
            "and run scripts/up.sh again.",
            file=sys.stderr,
        )
        return 2
    env = _pulumi_env(state)
    _configure_stack(pulumi, pg, env, state)
    return subprocess.run([pulumi, "up", "--stack", STACK, *argv], cwd=PROJECT_DIR, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
