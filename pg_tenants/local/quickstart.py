"""The quick start's main job: a local PostgreSQL, a local Pulumi stack pointed at it, `pulumi up`.

Everything lives under `.pg-tenants/` in the checkout (git-ignored): the database cluster,
the file backend, the stack's passphrase, and `env`, a file to `source` that points a shell at
the stack. The closing message says how to reach the stack and what to run next. No secret is
printed.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from pg_tenants.local.persistent import describe, start_persistent, write_private_file
from pg_tenants.local.server import RunningPostgres
from pg_tenants.verify.admin import ENV_ADMIN_URL

PROJECT_DIR = Path(__file__).resolve().parents[2]
STACK = "local"
INSTALL_URL = "https://www.pulumi.com/docs/install/"


def local_dir() -> Path:
    return Path(os.environ.get("PG_TENANTS_LOCAL_DIR", PROJECT_DIR / ".pg-tenants")).absolute()


def _private_file(path: Path, make: Callable[[], str]) -> Path:
    """The file at `path`, created once with `make()` and readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(path, make())
    return path


def stack_env(state: Path) -> dict[str, str]:
    """What points Pulumi at the local stack: its file backend and passphrase file."""
    (state / "backend").mkdir(parents=True, exist_ok=True)
    passphrase = _private_file(state / "passphrase", lambda: secrets.token_urlsafe(32))
    return {
        "PULUMI_BACKEND_URL": f"file://{state / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
    }


def export_lines(pg: RunningPostgres, env: dict[str, str]) -> list[str]:
    """Shell lines that point a shell at the stack and its database (the password is read from
    its file when the line runs, never written out)."""
    assert pg.password_file is not None
    password = f"$(cat {shlex.quote(str(pg.password_file))})"
    admin = f"postgresql://{pg.admin_user}:{password}@{pg.host}:{pg.port}/{pg.admin_database}?sslmode=disable"
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()] + [
        f'export {ENV_ADMIN_URL}="{admin}"'
    ]


def write_env_file(state: Path, lines: list[str]) -> Path:
    path = state / "env"
    write_private_file(path, "# source this file to reach the quick start's stack: . .pg-tenants/env\n" + "\n".join(lines) + "\n")
    return path


def closing_message(pg: RunningPostgres, lines: list[str], env_file: Path) -> str:
    """What to do next: the database's status block, how to reach the stack, the next commands."""
    assert pg.data_dir is not None
    stop = f"venv/bin/python -m pg_tenants.local stop --data-dir {shlex.quote(str(pg.data_dir))}"
    return "\n".join([
        "",
        describe(pg),
        "",
        f"Reach the stack `{STACK}` from your shell with `. {shlex.quote(str(env_file))}`, which runs:",
        *(f"  {line}" for line in lines),
        "",
        "Next:",
        f"  pulumi stack output --stack {STACK} tenants             # who is deployed where",
        f"  pulumi preview --stack {STACK} --diff                   # what an edit of tenants/ would change",
        f"  venv/bin/pg-tenants verify --stack {STACK}              # log in as every tenant and check the catalogs",
        f"  {stop}   # stop the database (scripts/up.sh starts it again)",
    ])  # fmt: skip


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
    env = stack_env(state)
    lines = export_lines(pg, env)
    env_file = write_env_file(state, lines)
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        print(closing_message(pg, lines, env_file))
        print(
            f"The Pulumi CLI is not installed, so `pulumi up` cannot run. Install it from {INSTALL_URL} "
            "and run scripts/up.sh again.",
            file=sys.stderr,
        )
        return 2
    run_env = {**os.environ, **env, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    _configure_stack(pulumi, pg, run_env, state)
    returncode = subprocess.run([pulumi, "up", "--stack", STACK, *argv], cwd=PROJECT_DIR, env=run_env).returncode
    print(closing_message(pg, lines, env_file))
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
