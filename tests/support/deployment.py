"""Deploy a tenant list to a real PostgreSQL the way `pulumi up` would, with the provider double.

The real program runs on the mock engine (`program_run`); `engine_plan` turns the previous
state and the new registrations into steps; `ProviderDouble` runs the SQL pulumi-postgresql
would run for each. Nothing here knows what a tenant is: it applies what the program declared.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pg_tenants.local.server import RunningPostgres
from tests.support import engine_plan
from tests.support.engine_plan import AppliedState
from tests.support.program_run import ProgramRun, run_program
from tests.support.provider_double import ProviderDouble
from tests.support.server_log import ServerLog
from tests.support.stack import StackConfig, write_tenant_file


# Every statement is logged, so tests can prove no plaintext password reaches the server; the
# line prefix carries user@database and the SQLSTATE, which `login_refusal` reads.
SERVER_SETTINGS = {"log_statement": "all", "log_min_error_statement": "error", "log_line_prefix": "%m %u@%d %e "}

# The stack admins the PostgreSQL tier deploys with (see "admin profiles" below).
SUPERUSER, MANAGED = "superuser", "managed"
ADMIN_PROFILES = (SUPERUSER, MANAGED)
MANAGED_ADMIN = "tenants_admin"
MANAGED_GROUP = "service_admins"  # owns the admin database; the admin is a member
MANAGED_SELF_GRANT = "set, inherit"
_MANAGED_PASSWORD = "m-" + secrets.token_urlsafe(24)


def stack_for(pg: RunningPostgres, tenants_dir: Path, database: str, *, profile: str = SUPERUSER) -> StackConfig:
    """A one-server stack whose admin is `pg`'s admin (for a profile other than the superuser:
    `prepare_admin`'s result), with the settings that profile needs (ADMIN_PROFILES)."""
    assert pg.admin_password is not None
    server: dict[str, Any] = {
        "host": pg.host,
        "port": pg.port,
        "adminUsername": pg.admin_user,
        "adminPasswordSecret": "mainAdminPassword",
        "sslmode": "disable",  # loopback test server
        "databases": [database],
    }
    settings: dict[str, Any] = {}
    if profile == MANAGED:
        # Read from the catalogs, refused when wrong (pg_tenants.server_checks): not a superuser.
        server["superuser"] = False
        # The admin can harden the admin database (its group owns it), never template1.
        server["protectedDatabases"] = [pg.admin_database]
        # It may not `ALTER ROLE … SET temp_file_limit` (no SET privilege on the parameter).
        settings["defaultTempFileLimit"] = -1
    return StackConfig(
        tenants_dir=tenants_dir,
        servers={"main": server},
        secrets={"mainAdminPassword": pg.admin_password},
        settings=settings,
    )


# ----------------------------------------------------------------------------- admin profiles
#
# "superuser": the server's own superuser is the stack's admin (self-hosted PostgreSQL).
# "managed": the admin a managed service gives you (RDS's master user, Cloud SQL's `postgres`,
# Azure's server admin): LOGIN CREATEROLE CREATEDB INHERIT, NOT SUPERUSER, and
# - on PostgreSQL 16+ the CREATEROLE rules of 16 with `createrole_self_grant = 'set, inherit'`
#   (what Azure Database for PostgreSQL sets; PostgreSQL's default is '', which RDS appears to
#   keep: `prepare_admin(self_grant="")` is that variant), so it is a member of every role it
#   creates;
# - it creates the tenant databases, so it owns them (on PostgreSQL 14 and older it is also
#   given their schema `public`, which initdb gives the bootstrap superuser: the services let
#   their admin run `REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
# - the admin database (`postgres`) belongs to a NOLOGIN group the admin is a member of, as
#   Cloud SQL's `postgres` database belongs to `cloudsqlsuperuser`; template1 belongs to the
#   bootstrap superuser, as on every service, so the admin cannot harden it;
# - no `GRANT SET ON PARAMETER temp_file_limit` (no service grants it), so no per-role
#   temp_file_limit: the stack says `defaultTempFileLimit: -1`.



def as_role(pg: RunningPostgres, user: str, password: str) -> RunningPostgres:
    """The same server, logged in as another role (admin_connect, admin_conninfo…)."""
    return replace(pg, admin_user=user, admin_password=password,
                   base_conninfo=make_conninfo(pg.base_conninfo, user=user, password=password))


def prepare_admin(pg: RunningPostgres, profile: str, *, self_grant: str = MANAGED_SELF_GRANT) -> RunningPostgres:
    """Create the profile's admin on the server (`reset_server` removes it); return the server
    as that admin sees it. The superuser profile is `pg` itself."""
    if profile == SUPERUSER:
        return pg
    assert profile == MANAGED, profile
    admin, group = sql.Identifier(MANAGED_ADMIN), sql.Identifier(MANAGED_GROUP)
    with pg.admin_connect() as su:
        su.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER CREATEROLE CREATEDB INHERIT NOREPLICATION NOBYPASSRLS PASSWORD {}")
                   .format(admin, sql.Literal(_MANAGED_PASSWORD)))
        if pg.major >= 16:
            su.execute(sql.SQL("ALTER ROLE {} SET createrole_self_grant = {}").format(admin, sql.Literal(self_grant)))
        su.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(group))
        su.execute(sql.SQL("GRANT {} TO {}").format(group, admin))
        su.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(pg.admin_database), group))
    return as_role(pg, MANAGED_ADMIN, _MANAGED_PASSWORD)


def create_tenant_database(pg: RunningPostgres, admin: RunningPostgres, name: str) -> None:
    """A database for tenants, created by the stack's admin `admin` (so owned by it). `pg` is
    the server's superuser, which on 14 and older hands a non-superuser admin `public` too."""
    with admin.admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if admin.admin_user != pg.admin_user and pg.major < 15:
        with pg.admin_connect(name) as su:
            su.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(admin.admin_user)))


def stack_admin(deployment: Deployment) -> RunningPostgres:
    """The server as the deployment's stack admin sees it: for what the admin itself does
    (`deployment.pg` is the server's superuser, for what only a superuser may read)."""
    server = deployment.stack.servers["main"]
    password = deployment.stack.secrets[server["adminPasswordSecret"]]
    return as_role(deployment.pg, server["adminUsername"], password)


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

    def up(self, parallelism: int = 10, *, skip_preview: bool = False, refresh: bool = False,
           program_dir: Path | None = None, extra_settings: Mapping[str, Any] | None = None) -> ProgramRun:
        """`pulumi up`: by default the preview runs first, and its errors stop everything.

        Without `refresh` the plan starts from the stored state, so changes made by hand are
        not seen; `refresh=True` is `pulumi up --refresh`: every resource is read back first
        (kept only if the deployment goes ahead: a failed preview persists nothing). A failed
        apply leaves in `state` what the engine would have recorded. `program_dir` runs
        another program (e.g. tests/fixtures/previous_model) as this stack's, with
        `extra_settings` (short keys) added to the stack config."""
        stack = replace(self.stack, settings={**self.stack.settings, **(extra_settings or {})})
        values, secret_keys = stack.as_pulumi_config()
        run = run_program(values, secret_keys, deterministic=False, prior=self.state.resources, program_dir=program_dir)
        if run.error is not None:
            raise run.error
        start = self.state
        if refresh:
            start = engine_plan.refresh(self.state, ProviderDouble(self.state.resources), parallelism)
        self.last_plan = engine_plan.plan(start, run)
        if self.last_plan.errors and not skip_preview:
            raise engine_plan.EngineError("preview failed: " + "\n".join(self.last_plan.errors))
        self.double = ProviderDouble(run.registrations)
        try:
            self.state = engine_plan.apply(self.last_plan, self.double, parallelism=parallelism, old=start)
        except engine_plan.ApplyError as failed:
            self.state = failed.state
            raise
        self.last_run = run
        return run

    def refresh(self, parallelism: int = 10) -> engine_plan.AppliedState:
        """`pulumi refresh`: read every resource back and store what was read."""
        self.double = ProviderDouble(self.state.resources)
        self.state = engine_plan.refresh(self.state, self.double, parallelism)
        return self.state

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
    """Undo everything a test did: databases, roles (an admin profile's too), PUBLIC's
    privileges on the built-in databases and who owns them."""
    with pg.admin_connect() as admin:
        databases = [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> %s", (pg.admin_database,))]
        for database in databases:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
        # The managed profile's group owns the admin database: give it back before dropping roles.
        for (database,) in admin.execute("SELECT datname FROM pg_database WHERE datdba <> (SELECT oid FROM pg_roles WHERE rolname = current_user)").fetchall():
            admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO CURRENT_USER").format(sql.Identifier(database)))
        # A profile's admin last: on 16+ it granted the memberships of the roles it created.
        roles = [r[0] for r in admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user ORDER BY rolname = ANY(%s), rolname",
            ([MANAGED_ADMIN, MANAGED_GROUP],))]
        for role in roles:
            admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        restore_public_on_builtin_databases(admin, pg)


def restore_public_on_builtin_databases(admin: psycopg.Connection, pg: RunningPostgres) -> None:
    """PUBLIC's privileges on the admin database and template1 as initdb leaves them: CONNECT and
    TEMPORARY on the first; CONNECT only on template1 (initdb.c make_template0: "REVOKE
    CREATE,TEMPORARY ON DATABASE template1 FROM public"), so no test sees more than a new server."""
    for database, privileges in ((pg.admin_database, "CONNECT, TEMPORARY"), ("template1", "CONNECT")):
        name = sql.Identifier(database)
        admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name))
        admin.execute(sql.SQL("GRANT {} ON DATABASE {} TO PUBLIC").format(sql.SQL(privileges), name))


def create_database(pg: RunningPostgres, name: str) -> None:
    with pg.admin_connect() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def connect_as(formats: Mapping[str, Any]) -> psycopg.Connection:
    """Log in exactly as a tenant's client would: with its exported URI."""
    return psycopg.connect(formats["uri"], autocommit=True)


def login_refusal(pg: RunningPostgres, formats: Mapping[str, Any], **overrides: Any) -> str | None:
    """Log in with the tenant's URI: None if it works, else the SQLSTATE the server logged.

    libpq gives no SQLSTATE for a refused connection, so it is read from the server's log,
    whose line prefix carries `user@database SQLSTATE` (SERVER_SETTINGS). A log that cannot be
    read fails the test (`ServerLogUnreadable`): a refusal is never taken on trust.
    """
    params = conninfo_to_dict(formats["uri"]) | overrides
    log = ServerLog.of(pg)
    offset = log.size()
    try:
        psycopg.connect(**params).close()
    except psycopg.OperationalError:
        pass
    else:
        return None
    marker = f" {params['user']}@{params['dbname']} "
    lines = [line for line in log.since(offset).splitlines() if marker in line and "FATAL:" in line]
    assert lines, f"no FATAL line for {marker.strip()} in the server log"
    return lines[-1].split(marker, 1)[1].split()[0]
