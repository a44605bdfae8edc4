"""Refuse to take over a schema that exists but is not this stack's, unless `adopt` says so.

pulumi-postgresql does not fail when a Schema's name already exists, even with
`if_not_exists = false`: it looks the schema up and only changes its owner (TF
resource_postgresql_schema.go, createSchema). Its data would go to the new tenant, the
Cloacina mistake. So before anything is declared, the program reads the catalogs: a tenant
whose schema exists while its role does not was never deployed by this stack (or was
offboarded with its schema retained) and needs an explicit `adopt: true`. Adoption imports
the role too when it exists (a Cloacina tenant); a retained schema gets a new role.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import make_conninfo

from pg_tenants.problems import Problem
from pg_tenants.stack_config import NAMESPACE, StackSettings
from pg_tenants.tenant_model import Tenant

SKIP_HINT = f"or set {NAMESPACE}:checkExistingSchemas false to skip this check"


@dataclass(frozen=True)
class ExistingObjects:
    problems: list[Problem]
    roles: frozenset[tuple[str, str]]  # (server, role) of tenants' roles that already exist


def existing_objects(tenants: list[Tenant], settings: StackSettings, secret_value: Callable[[str], str | None]) -> ExistingObjects:
    placed: dict[tuple[str, str], list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        placed[(tenant.server, tenant.database)].append(tenant)
    problems: list[Problem] = []
    existing_roles: set[tuple[str, str]] = set()
    for (server_key, database), group in sorted(placed.items()):
        server = settings.servers[server_key]
        conninfo = make_conninfo(
            host=server.host, port=server.port, dbname=database, user=server.admin_username,
            password=secret_value(server.admin_password_secret), sslmode=server.sslmode,
            connect_timeout=server.connect_timeout,
        )  # fmt: skip
        try:
            with psycopg.connect(conninfo) as conn:
                schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", ([t.schema for t in group],))}
                roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", ([t.username for t in group],))}
        except psycopg.Error as error:
            problems.append(
                Problem(
                    "stack config", None, f"{NAMESPACE}:servers.{server_key}",
                    f"cannot read database {database!r} to check for existing schemas: {str(error).strip().splitlines()[0]}",
                    f"check host, port, sslmode and the admin password, {SKIP_HINT}",
                )  # fmt: skip
            )
            continue
        existing_roles |= {(server_key, role) for role in roles}
        problems += [p for t in group if (p := _problem(t, t.schema in schemas, t.username in roles)) is not None]
    return ExistingObjects(problems, frozenset(existing_roles))


def _problem(tenant: Tenant, schema_exists: bool, role_exists: bool) -> Problem | None:
    where = f"schema {tenant.schema!r} in database {tenant.database!r} of server {tenant.server!r}"
    if tenant.adopt and not schema_exists:
        return Problem(tenant.file, tenant.line, f"{tenant.name}.adopt", f"{where} does not exist, so there is nothing to adopt", "remove `adopt: true` to create the tenant")
    # A renamed tenant (previous_names) may be renaming its role too: it existed before.
    if not tenant.adopt and schema_exists and not role_exists and not tenant.previous_names:
        return Problem(
            tenant.file, tenant.line, f"{tenant.name}.schema",
            f"{where} already exists and is not this tenant's: deploying would hand its data to a new role",
            f"to take it over with its data set `adopt: true`; otherwise choose another schema, {SKIP_HINT}",
        )  # fmt: skip
    return None
