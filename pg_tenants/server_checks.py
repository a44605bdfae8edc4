"""What the admin login can do on each server, read from the catalogs before anything is declared.

The program runs as whatever admin the stack names. On a managed service (RDS, Cloud SQL,
Azure) that admin is not a superuser: it has CREATEROLE and CREATEDB and owns what it created.
Several things then fail, or silently do nothing, only once `pulumi up` is half way through;
each is refused here, during `pulumi preview` too, with its fix:

- `superuser: true` (the default) for an admin that is not a superuser: pulumi-postgresql then
  reads every login role's password back from `pg_shadow` after creating or updating it, and
  fails after the change was committed (TF resource_postgresql_role.go readRolePassword).
- An admin that is neither superuser nor CREATEROLE cannot create the tenants' roles.
- A tenant database whose ACL the admin cannot change (not a superuser, and without the
  privileges of the database's owner): GRANT CONNECT to a tenant and REVOKE from PUBLIC are
  then only WARNINGs ("no privileges were granted/revoked") that change nothing.
- With hardening on: a protected database, or the schema `public` of a tenant database, where
  PUBLIC holds what hardening takes away and the admin cannot take it (same rule: superuser,
  or the privileges of the object's owner; `pg_database_owner`, the owner of `public` on
  PostgreSQL 15 and later, counts for the database's owner).
- A per-role `temp_file_limit` (`ALTER ROLE … SET`) when the admin may not set that
  superuser-only parameter (PostgreSQL 15+: unless granted `SET ON PARAMETER temp_file_limit`).
- PostgreSQL 16 and later: an existing tenant role the admin holds no ADMIN option on (a role
  another admin, or a superuser, created): altering, granting or dropping it would be refused.
  A SUPERUSER tenant role (adopted) can only be changed by a superuser admin.
- A schema to adopt owned by a role whose privileges the admin lacks: granting the tenant its
  schema and taking it over would be refused.
- A silo tenant's database yet to be created by an admin that is neither superuser nor CREATEDB;
  or on PostgreSQL 14 or older, by an admin that is not a superuser: its schema `public`, copied from template0, belongs to the bootstrap superuser
  with CREATE for PUBLIC, which that admin cannot take away.

The checks are set-based: one query per server and one per tenant database, on the
connections `pg_tenants.existing_objects` opens anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pg_tenants.problems import Problem, plural
from pg_tenants.stack_config import NAMESPACE, ServerSettings, StackSettings
from pg_tenants.tenants.model import Tenant

STACK = "stack config"
# What hardening takes away from PUBLIC (pg_tenants.admin_sql.HARDENED_PRIVILEGES), as aclexplode names them.
_DATABASE_PUBLIC = ("CONNECT", "TEMPORARY", "CREATE")
_SCHEMA_PUBLIC = ("CREATE",)


@dataclass(frozen=True)
class AdminFacts:
    """The admin login as the server sees it."""

    name: str
    superuser: bool
    createrole: bool
    server_version: int  # server_version_num, e.g. 160004
    can_set_temp_file_limit: bool  # superuser, or (15+) SET privilege on the parameter
    createdb: bool = False  # what a silo tenant's database needs (components.own_database)


def read_admin(conn: psycopg.Connection) -> AdminFacts:
    version = conn.info.server_version
    can_set = "r.rolsuper" if version < 150000 else "has_parameter_privilege('temp_file_limit', 'SET')"
    row = conn.execute(
        f"SELECT r.rolname, r.rolsuper, r.rolcreaterole, {can_set}, r.rolcreatedb FROM pg_roles r WHERE r.rolname = current_user"
    ).fetchone()
    assert row is not None
    return AdminFacts(name=row[0], superuser=row[1], createrole=row[2], server_version=version, can_set_temp_file_limit=row[3],
                      createdb=row[4])


def _q(name: str) -> str:
    """A name as it appears in SQL: `"app"`."""
    return sql.Identifier(name).as_string()


# Databases of the server, their owner, whether the admin can change their ACL, and which of
# the hardened privileges PUBLIC holds on them (a NULL ACL is the built-in default).
_DATABASES_SQL = """
SELECT d.datname, pg_get_userbyid(d.datdba),
       pg_has_role(current_user, d.datdba, 'USAGE') AS can_change,
       ARRAY(SELECT e.privilege_type FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) e
              WHERE e.grantee = 0 AND e.privilege_type = ANY(%(hardened)s) ORDER BY 1) AS public_holds
FROM pg_database d WHERE d.datname = ANY(%(names)s)
"""

# Existing tenant roles the admin cannot administer (see the module docstring).
_ROLES_SQL = """
SELECT r.rolname, r.rolsuper
FROM pg_roles r
WHERE r.rolname = ANY(%(names)s)
  AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
  AND (r.rolsuper OR (%(v16)s AND NOT pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')))
ORDER BY r.rolname
"""

# The schema `public` of the connected database: owner, whether the admin can change its ACL,
# and what PUBLIC holds there of what hardening takes away.
_PUBLIC_SCHEMA_SQL = """
SELECT pg_get_userbyid(n.nspowner), pg_has_role(current_user, n.nspowner, 'USAGE'),
       ARRAY(SELECT e.privilege_type FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) e
              WHERE e.grantee = 0 AND e.privilege_type = ANY(%(hardened)s) ORDER BY 1)
FROM pg_namespace n WHERE n.nspname = 'public'
"""


def _tenant_roles(tenants: Iterable[Tenant]) -> list[str]:
    """Every role the program declares for these tenants (login slots whatever the state: an
    offboarded tenant's slots are dropped, which needs the same rights)."""
    names: set[str] = set()
    for tenant in tenants:
        names.add(tenant.username)
        if tenant.zero_downtime_rotation:
            names |= {f"{tenant.username}_a", f"{tenant.username}_b"}
    return sorted(names)


def server_problems(
    conn: psycopg.Connection, facts: AdminFacts, server_key: str, server: ServerSettings,
    settings: StackSettings, tenants: Sequence[Tenant],
) -> list[Problem]:  # fmt: skip
    """Problems of the admin on one server, read once per server (any of its databases)."""
    where = f"{NAMESPACE}:servers.{server_key}"
    admin = facts.name
    problems: list[Problem] = []
    if server.superuser and not facts.superuser:
        problems.append(Problem(
            STACK, None, f"{where}.superuser",
            f"server {server_key!r}: the stack says its admin {admin!r} is a superuser (`superuser` defaults to true), "
            "but it is not (a managed service's admin never is): pulumi-postgresql would read every login role's "
            "password from pg_shadow after creating or updating it, and fail after the change was committed",
            f"run `pulumi config set --path '{where}.superuser' false`",
        ))  # fmt: skip
    if not facts.superuser and not facts.createrole:
        problems.append(Problem(
            STACK, None, f"{where}.adminUsername",
            f"server {server_key!r}: its admin {admin!r} is neither SUPERUSER nor CREATEROLE, so it cannot create the tenants' roles",
            f"use an admin with CREATEROLE (a managed service's master user has it), or `ALTER ROLE {_q(admin)} CREATEROLE` as a superuser",
        ))  # fmt: skip
    problems += _temp_file_limit_problems(facts, server_key, settings, tenants)
    problems += _role_problems(conn, facts, server_key, tenants)
    databases = sorted({t.database for t in tenants})
    protected = sorted(set(server.protected_databases) - set(databases)) if settings.harden_databases else []
    found = {
        row[0]: row[1:]
        for row in conn.execute(_DATABASES_SQL, {"names": databases + protected, "hardened": list(_DATABASE_PUBLIC)})
    }
    for database in databases:
        if database in found and not found[database][1]:
            owner = found[database][0]
            problems.append(Problem(
                STACK, None, f"{where}.databases",
                f"the admin {admin!r} cannot change who may connect to database {database!r} of server {server_key!r}: "
                f"it is not a superuser and does not have the privileges of the database's owner {owner!r}, so granting "
                "CONNECT to a tenant (and revoking it from PUBLIC) would be a WARNING that changes nothing",
                f"make the admin own it: `ALTER DATABASE {_q(database)} OWNER TO {_q(admin)}` (as {owner!r} or a superuser; "
                "on a managed service, create the tenant databases as the admin)",
            ))  # fmt: skip
    for database in protected:
        if database not in found:
            continue  # not there: nothing to harden (pulumi-postgresql reports it)
        owner, can_change, public_holds = found[database]
        if can_change or not public_holds:
            continue
        problems.append(Problem(
            STACK, None, f"{where}.protectedDatabases",
            f"the admin {admin!r} cannot harden protected database {database!r} of server {server_key!r}: PUBLIC holds "
            f"{', '.join(public_holds)} on it, and the admin is not a superuser and does not have the privileges of its owner "
            f"{owner!r}, so REVOKE … FROM PUBLIC would be a WARNING that changes nothing and tenants could still connect to it",
            f"make the admin own it (`ALTER DATABASE {_q(database)} OWNER TO {_q(admin)}`, as {owner!r} or a superuser), "
            f"or leave it out of {where}.protectedDatabases (tenants can then connect to it), "
            f"or set `pulumi config set {NAMESPACE}:hardenDatabases false`",
        ))  # fmt: skip
    return problems


def database_problems(
    conn: psycopg.Connection, facts: AdminFacts, server_key: str, database: str, settings: StackSettings,
) -> list[Problem]:  # fmt: skip
    """Problems of the admin in one tenant database (the connection is to that database)."""
    if facts.superuser or not settings.harden_databases:
        return []
    row = conn.execute(_PUBLIC_SCHEMA_SQL, {"hardened": list(_SCHEMA_PUBLIC)}).fetchone()
    if row is None:
        return []  # no schema `public`: nothing to harden there
    owner, can_change, public_holds = row
    if can_change or not public_holds:
        return []
    admin = facts.name
    return [Problem(
        STACK, None, f"{NAMESPACE}:servers.{server_key}.databases",
        f"the admin {admin!r} cannot take PUBLIC's {', '.join(public_holds)} on schema public of database {database!r} of "
        f"server {server_key!r}: it is not a superuser and does not have the privileges of the schema's owner {owner!r}, so "
        "every tenant could create objects in `public` (on every role's search_path, the admin's included)",
        f"as {owner!r} or a superuser, in database {_q(database)}: `ALTER SCHEMA public OWNER TO {_q(admin)}` "
        "(or `REVOKE CREATE ON SCHEMA public FROM PUBLIC`, which the program then keeps)",
    )]  # fmt: skip


def own_database_problems(facts: AdminFacts, server_key: str, tenants: Sequence[Tenant]) -> list[Problem]:
    """Silo tenants whose database the stack is about to create (components.own_database)."""
    if facts.superuser:
        return []
    if not facts.createdb:
        return [Problem(
            tenant.file, tenant.line, f"{tenant.name}.isolation",
            f"the admin {facts.name!r} of server {server_key!r} is neither a superuser nor CREATEDB, so it cannot create "
            f"the tenant's own database {tenant.database!r}",
            f"`ALTER ROLE {_q(facts.name)} CREATEDB` (as a superuser), or use isolation: schema",
        ) for tenant in tenants]  # fmt: skip
    if facts.server_version >= 150000:
        return []
    return [Problem(
        tenant.file, tenant.line, f"{tenant.name}.isolation",
        f"the admin {facts.name!r} of server {server_key!r} is not a superuser and the server runs PostgreSQL "
        f"{facts.server_version // 10000}: in a database it creates, schema public belongs to the bootstrap superuser and "
        "PUBLIC may create objects there, which the admin cannot take away, so the tenant could plant objects on the "
        "admin's search_path",
        "use isolation: schema for tenants of this server, upgrade it to PostgreSQL 15 or later, or deploy with a "
        "superuser admin",
    ) for tenant in tenants]  # fmt: skip


# Schemas to adopt whose owner's privileges the admin lacks.
_ADOPTED_SCHEMAS_SQL = """
SELECT n.nspname, pg_get_userbyid(n.nspowner) FROM pg_namespace n
WHERE n.nspname = ANY(%(names)s) AND NOT pg_has_role(current_user, n.nspowner, 'USAGE')
"""


def adopted_schema_problems(conn: psycopg.Connection, facts: AdminFacts, adopting: Sequence[Tenant]) -> list[Problem]:
    """Tenants adopting an existing schema (connection to their database): the adoption grants
    the tenant USAGE and CREATE on it and then makes the admin its owner, both of which need the
    privileges of its current owner."""
    if facts.superuser or not adopting:
        return []
    owners = dict(conn.execute(_ADOPTED_SCHEMAS_SQL, {"names": [t.schema for t in adopting]}).fetchall())
    admin = facts.name
    return [
        Problem(
            tenant.file, tenant.line, f"{tenant.name}.adopt",
            f"schema {tenant.schema!r} in database {tenant.database!r} of server {tenant.server!r} is owned by "
            f"{owners[tenant.schema]!r}, and the admin {admin!r} is not a superuser and does not have that role's privileges: "
            "the adoption could neither grant the tenant its schema nor make the admin its owner",
            f"as {owners[tenant.schema]!r} or a superuser: `ALTER SCHEMA {_q(tenant.schema)} OWNER TO {_q(admin)}`",
        )  # fmt: skip
        for tenant in adopting
        if tenant.schema in owners
    ]


def _temp_file_limit_problems(facts: AdminFacts, server_key: str, settings: StackSettings, tenants: Sequence[Tenant]) -> list[Problem]:
    """One problem for the stack default (if tenants use it), one per tenant that sets its own."""
    if facts.can_set_temp_file_limit:
        return []
    limited = [t for t in tenants if t.login_roles and t.temp_file_limit >= 0]
    if not limited:
        return []
    admin = facts.name
    why = (
        f"temp_file_limit is a superuser-only parameter and the admin {admin!r} of server {server_key!r} is not a superuser"
        + ("" if facts.server_version < 150000 else " and holds no SET privilege on it")
        + ", so `ALTER ROLE … SET temp_file_limit` would fail after the tenant's roles were created"
    )
    grant = "" if facts.server_version < 150000 else f", or, as a superuser, `GRANT SET ON PARAMETER temp_file_limit TO {_q(admin)}`"
    problems: list[Problem] = []
    default = settings.default_temp_file_limit
    by_default = [t for t in limited if t.temp_file_limit == default]
    if by_default:
        problems.append(Problem(
            STACK, None, f"{NAMESPACE}:defaultTempFileLimit",
            f"{plural(len(by_default), 'tenant')} on server {server_key!r} would get the default per-role temp_file_limit "
            f"({default} kB): {why}",
            f"run `pulumi config set {NAMESPACE}:defaultTempFileLimit -- -1` and cap temp files server-wide with the "
            f"server's temp_file_limit (a managed service's parameter group or flags){grant}",
        ))  # fmt: skip
    for tenant in limited:
        if tenant.temp_file_limit != default:
            problems.append(Problem(
                tenant.file, tenant.line, f"{tenant.name}.temp_file_limit",
                f"tenant {tenant.name!r} sets temp_file_limit {tenant.temp_file_limit} kB: {why}",
                f"remove temp_file_limit from the tenant (with {NAMESPACE}:defaultTempFileLimit -1) and cap temp files "
                f"server-wide instead{grant}",
            ))  # fmt: skip
    return problems


def _role_problems(conn: psycopg.Connection, facts: AdminFacts, server_key: str, tenants: Sequence[Tenant]) -> list[Problem]:
    if facts.superuser:
        return []
    names = _tenant_roles(tenants)
    rows = conn.execute(_ROLES_SQL, {"names": names, "v16": facts.server_version >= 160000}).fetchall()
    owners = {t.username: t for t in tenants} | {
        f"{t.username}_{slot}": t for t in tenants if t.zero_downtime_rotation for slot in "ab"
    }
    admin = facts.name
    problems = []
    for role, is_superuser in rows:
        tenant = owners[role]
        if is_superuser:
            message = f"role {role!r} of tenant {tenant.name!r} exists and is a SUPERUSER; the admin {admin!r} of server {server_key!r} is not, so it cannot make it NOSUPERUSER"
            fix = f"as a superuser, `ALTER ROLE {_q(role)} NOSUPERUSER`"
        else:
            message = (
                f"role {role!r} of tenant {tenant.name!r} exists, and the admin {admin!r} of server {server_key!r} holds no ADMIN "
                "option on it (on PostgreSQL 16 and later a CREATEROLE admin may only alter, grant or drop roles it created or "
                "was given ADMIN on)"
            )
            fix = f"as a superuser or a role with ADMIN on it (e.g. the admin that created it): `GRANT {_q(role)} TO {_q(admin)} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`"
        problems.append(Problem(tenant.file, tenant.line, f"{tenant.name}.username", message, fix))
    return problems
