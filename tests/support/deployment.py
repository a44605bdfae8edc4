"""Deploy a tenant list to a real PostgreSQL the way `pulumi up` would, with the provider double.

The real program runs on the mock engine (`program_run`); `engine_plan` turns the previous
state and the new registrations into steps; `ProviderDouble` runs the SQL pulumi-postgresql
would run for each. Nothing here knows what a tenant is: it applies what the program declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pg_tenants.local_postgres import RunningPostgres
from tests.support import engine_plan
from tests.support.engine_plan import AppliedState
from tests.support.program_run import ProgramRun, run_program
from tests.support.provider_double import ProviderDouble
from tests.support.stack import StackConfig, write_tenant_file


# Every statement is logged, so tests can prove no plaintext password reaches the server; the
# line prefix carries user@database and the SQLSTATE, which `login_refusal` reads.
SERVER_SETTINGS = {"log_statement": "all", "log_min_error_statement": "error", "log_line_prefix": "%m %u@%d %e "}


def stack_for(pg: RunningPostgres, tenants_dir: Path, database: str) -> StackConfig:
    assert pg.admin_password is not None
    return StackConfig(
        tenants_dir=tenants_dir,
        servers={
            "main": {
                "host": pg.host,
                "port": pg.port,
                "adminUsername": pg.admin_user,
                "adminPasswordSecret": "mainAdminPassword",
                "sslmode": "disable",  # loopback test server
                "databases": [database],
            }
        },
        secrets={"mainAdminPassword": pg.admin_password},
    )


@dataclass
class Deployment:
    """A stack on a real server: edit the tenant list, then `up()` as often as needed."""

    pg: RunningPostgres
    stack: StackConfig
    state: AppliedState = field(default_factory=AppliedState)
    last_run: ProgramRun | None = None
    last_plan: engine_plan.Plan | None = None
    double: ProviderDouble | None = None

    def write(self, tenants: list[Mapping[str, Any]]) -> None:
        write_tenant_file(self.stack.tenants_dir, "tenants.yaml", tenants)

    def up(self, parallelism: int = 10, *, skip_preview: bool = False) -> ProgramRun:
        """`pulumi up`: by default the preview runs first, and its errors stop everything."""
        values, secret_keys = self.stack.as_pulumi_config()
        run = run_program(values, secret_keys, deterministic=False, prior=self.state.resources)
        if run.error is not None:
            raise run.error
        self.last_plan = engine_plan.plan(self.state, run)
        if self.last_plan.errors and not skip_preview:
            raise engine_plan.EngineError("preview failed: " + "\n".join(self.last_plan.errors))
        self.double = ProviderDouble(run.registrations)
        self.state = engine_plan.apply(self.last_plan, self.double, parallelism=parallelism, old=self.state)
        self.last_run = run
        return run

    def destroy(self) -> None:
        the_plan = engine_plan.plan(self.state, [])
        self.double = ProviderDouble(self.state.resources)
        self.state = engine_plan.apply(the_plan, self.double, old=self.state)

    @property
    def connections(self) -> dict[str, dict[str, Any]]:
        assert self.last_run is not None
        output = self.last_run.outputs["connections"]
        assert output.secret
        return output.value


def reset_server(pg: RunningPostgres) -> None:
    """Undo everything a test did: databases, roles, PUBLIC's privileges on the built-in ones."""
    with pg.admin_connect() as admin:
        databases = [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> %s", (pg.admin_database,))]
        for database in databases:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
        roles = [r[0] for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user")]
        for role in roles:
            admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        for database in (pg.admin_database, "template1"):
            admin.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO PUBLIC").format(sql.Identifier(database)))


def create_database(pg: RunningPostgres, name: str) -> None:
    with pg.admin_connect() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def connect_as(formats: Mapping[str, Any]) -> psycopg.Connection:
    """Log in exactly as a tenant's client would: with its exported URI."""
    return psycopg.connect(formats["uri"], autocommit=True)


def login_refusal(pg: RunningPostgres, formats: Mapping[str, Any], **overrides: Any) -> str | None:
    """Log in with the tenant's URI: None if it works, else the SQLSTATE the server logged.

    libpq gives no SQLSTATE for a refused connection, so it is read from the server's log,
    whose line prefix carries `user@database SQLSTATE` (see tests/postgres/conftest.py).
    """
    params = conninfo_to_dict(formats["uri"]) | overrides
    try:
        psycopg.connect(**params).close()
    except psycopg.OperationalError:
        pass
    else:
        return None
    if pg.log_path is None:
        pytest.skip("the server's log is not readable here; a refused login's SQLSTATE is read from it")
    marker = f" {params['user']}@{params['dbname']} "
    lines = [line for line in pg.log_path.read_text(errors="replace").splitlines() if marker in line and "FATAL:" in line]
    assert lines, f"no FATAL line for {marker.strip()} in the server log"
    return lines[-1].split(marker, 1)[1].split()[0]
