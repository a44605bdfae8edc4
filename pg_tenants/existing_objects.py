"""Refuse to take over a schema that exists but is not this stack's, unless `adopt` says so, and
refuse to adopt one that holds objects owned by the admin or a superuser.

pulumi-postgresql does not fail when a Schema's name already exists, even with
`if_not_exists = false`: it looks the schema up and only changes its owner (TF
resource_postgresql_schema.go, createSchema). Its data would go to the new tenant, the
Cloacina mistake. So before anything is declared (during `pulumi preview` too), the program
reads the catalogs of each tenant database as the admin:

- a tenant whose schema exists while its role does not was never deployed by this stack (or
  was offboarded with its schema retained) and needs an explicit `adopt: true`;
- `adopt: true` where the schema does not exist is refused: there is nothing to adopt;
- `adopt: true` on a schema holding objects owned by the admin or by any superuser is refused,
  one problem per object (at most `MAX_LISTED` per schema, then how many more). Offboarding
  under the old model ran `REASSIGN OWNED BY <tenant> TO <admin>`, so a retained schema holds
  tenant-written functions (SECURITY DEFINER ones too), views, and tables whose triggers,
  rules, policies, defaults and index expressions are code as well, all now owned by the
  superuser; a Cloacina tenant's tables were created by the admin. Adopting such a schema
  would give the tenant code that runs with the admin's privileges (docs/ownership-model.md),
  so any admin- or superuser-owned object there counts, whatever it is. The fix hands
  each object to the tenant's role (`ALTER … OWNER TO`; a retained schema's role is created
  first, NOLOGIN, and the adoption imports it) or drops it; never `REASSIGN OWNED`, which
  moves everything a role owns in the database, not just this schema.

Adoption imports the role too when it exists (a Cloacina tenant); a retained schema whose role
is gone gets a new role. The owned-object listing is one set-based query per database, run
only when some tenant there adopts a schema that exists.

The same connections check what the admin itself can do (a managed service's admin is no
superuser): pg_tenants.server_checks, once per server and once per tenant database.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pg_tenants import server_checks
from pg_tenants.problems import ConfigurationInvalid, Problem
from pg_tenants.stack_config import NAMESPACE, ServerSettings, StackSettings
from pg_tenants.tenants.model import Tenant
from pg_tenants.credentials.valid_until import server_texts

SKIP_HINT = f"or set {NAMESPACE}:checkExistingSchemas false to skip this check"
MAX_LISTED = 20  # objects listed per schema; the rest are counted


ENV_PREVIEW_WITHOUT_DATABASE = "PG_TENANTS_PREVIEW_WITHOUT_DATABASE"
PREVIEW_NOT_CHECKED = (
    f"{ENV_PREVIEW_WITHOUT_DATABASE} is set: this preview read no database, so it did not check that each "
    "tenant's schema is not someone else's existing schema (adoption), that schemas to adopt exist and hold no "
    "object of the admin or a superuser, what the admin may do on each server and database (superuser, "
    "CREATEROLE, ACLs, temp_file_limit), or valid_until as the server will read it back (shown in UTC here). "
    "`pulumi up` reads the catalogs and refuses, before changing anything, what these checks find."
)


def preview_without_database(preview: bool) -> bool:
    """True when this run is a preview told to read no database (ConfigurationInvalid for a bad value)."""
    value = os.environ.get(ENV_PREVIEW_WITHOUT_DATABASE, "").strip().lower()
    if value not in ("", "true", "false", "1", "0"):
        raise ConfigurationInvalid([Problem(
            "environment", None, ENV_PREVIEW_WITHOUT_DATABASE, f"{value!r} is neither true nor false",
            f"set {ENV_PREVIEW_WITHOUT_DATABASE}=true for a preview without database access, or unset it",
        )])  # fmt: skip
    return preview and value in ("true", "1")


@dataclass(frozen=True)
class ExistingObjects:
    problems: list[Problem]
    roles: frozenset[tuple[str, str]]  # (server, role) of tenants' roles that already exist
    # (server, database, ISO 8601 expiry) -> the text the provider's Role Read gives back there.
    valid_until_texts: dict[tuple[str, str, str], str]


@dataclass(frozen=True)
class OwnedObject:
    """An object in a schema to adopt whose owner is the admin or a superuser."""

    kind: str  # "function", "view", "table", …; upper-cased it is the ALTER … OWNER TO keyword
    name: str  # schema-qualified, quoted by the server where needed: acme.f(integer)
    owner: str
    members: int = 1  # kind "extension": how many of its objects are in the schema


def _tls_hint(server: ServerSettings) -> str:
    """Name the TLS files in the fix when there are some: a wrong CA fails right here."""
    files = server.tls_params()
    return "".join(f", {key} ({path})" for key, path in files.items())


def existing_objects(tenants: list[Tenant], settings: StackSettings, secret_value: Callable[[str], str | None]) -> ExistingObjects:
    placed: dict[tuple[str, str], list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        placed[(tenant.server, tenant.database)].append(tenant)
    problems: list[Problem] = []
    existing_roles: set[tuple[str, str]] = set()
    texts: dict[tuple[str, str, str], str] = {}
    admins: dict[str, server_checks.AdminFacts] = {}  # per server, read on its first connection
    not_created = _own_databases_not_created(placed, settings, secret_value)
    for (server_key, database), group in sorted(placed.items()):
        server = settings.servers[server_key]
        # A silo tenant's database that the stack has yet to create: nothing in it to take over.
        new_database = (server_key, database) in not_created
        conninfo = _conninfo(settings, server_key, server.admin_database if new_database else database, secret_value)
        try:
            with psycopg.connect(conninfo) as conn:
                in_database = [] if new_database else [t.schema for t in group]
                schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (in_database,))}
                roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", ([t.username for t in group],))}
                adopted = sorted(t.schema for t in group if t.adopt and t.schema in schemas)
                owned = _admin_owned_objects(conn, adopted, server.admin_username) if adopted else {}
                expiries = server_texts(conn, [t.valid_until for t in group])
                # What the admin can do (pg_tenants.server_checks): server-wide once, then per database.
                if server_key not in admins:
                    admins[server_key] = facts = server_checks.read_admin(conn)
                    on_server = [t for t in tenants if t.server == server_key]
                    problems += server_checks.server_problems(conn, facts, server_key, server, settings, on_server)
                if new_database:
                    problems += server_checks.own_database_problems(admins[server_key], server_key, group)
                else:
                    problems += server_checks.database_problems(conn, admins[server_key], server_key, database, settings)
                adopting = [t for t in group if t.adopt and t.schema in schemas]
                problems += server_checks.adopted_schema_problems(conn, admins[server_key], adopting)
        except psycopg.Error as error:
            problems.append(
                Problem(
                    "stack config", None, f"{NAMESPACE}:servers.{server_key}",
                    f"cannot read database {database!r} to check for existing schemas: {str(error).strip().splitlines()[0]}",
                    f"check host, port, sslmode{_tls_hint(server)} and the admin password; `pulumi preview` reads the catalogs as `pulumi up` does, "
                    f"so run it where the server is reachable, or, for a preview only, set {ENV_PREVIEW_WITHOUT_DATABASE}=true "
                    "(fewer checks, named in a warning; `pulumi up` always reads them)",
                )  # fmt: skip
            )
            continue
        existing_roles |= {(server_key, role) for role in roles}
        texts |= {(server_key, database, value): text for value, text in expiries.items()}
        problems += [p for t in group if (p := _problem(t, t.schema in schemas, t.username in roles)) is not None]
        if group[0].isolation == "database" and not new_database:
            problems += [_foreign_database(t) for t in group if t.username not in roles and not t.previous_names]
        for tenant in group:
            if tenant.adopt and tenant.schema in owned:
                listed, total = owned[tenant.schema]
                problems += owned_object_problems(tenant, listed, total, server.admin_username, role_exists=tenant.username in roles,
                                                  admin_is_superuser=admins[server_key].superuser)
    return ExistingObjects(problems, frozenset(existing_roles), texts)


def _conninfo(settings: StackSettings, server_key: str, database: str, secret_value: Callable[[str], str | None]) -> str:
    server = settings.servers[server_key]
    return make_conninfo(
        host=server.host, port=server.port, dbname=database, user=server.admin_username,
        password=secret_value(server.admin_password_secret), sslmode=server.sslmode,
        connect_timeout=server.connect_timeout, **server.tls_params(),
    )  # fmt: skip


def _own_databases_not_created(placed: dict[tuple[str, str], list[Tenant]], settings: StackSettings,
                               secret_value: Callable[[str], str | None]) -> set[tuple[str, str]]:  # fmt: skip
    """(server, database) of silo tenants whose database does not exist yet: one query per server
    with silo tenants, on its admin database (a server that cannot be read is reported below)."""
    silos: dict[str, list[str]] = defaultdict(list)
    for (server_key, database), group in placed.items():
        if group[0].isolation == "database":
            silos[server_key].append(database)
    missing: set[tuple[str, str]] = set()
    for server_key, databases in silos.items():
        try:
            with psycopg.connect(_conninfo(settings, server_key, settings.servers[server_key].admin_database, secret_value)) as conn:
                found = {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (databases,))}
        except psycopg.Error:
            continue
        missing |= {(server_key, database) for database in databases if database not in found}
    return missing


def _problem(tenant: Tenant, schema_exists: bool, role_exists: bool) -> Problem | None:
    where = _where(tenant)
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


def _foreign_database(tenant: Tenant) -> Problem:
    """A silo tenant never deployed (its role does not exist) whose database does: CREATE DATABASE
    would fail halfway through `pulumi up`, and the database is someone else's."""
    return Problem(
        tenant.file, tenant.line, f"{tenant.name}.database",
        f"database {tenant.database!r} already exists on server {tenant.server!r} and is not this tenant's: "
        "isolation: database creates the tenant's own database",
        f"name another with `database:`, {SKIP_HINT}",
    )  # fmt: skip


def _where(tenant: Tenant) -> str:
    return f"schema {tenant.schema!r} in database {tenant.database!r} of server {tenant.server!r}"


def owned_object_problems(
    tenant: Tenant, listed: Iterable[OwnedObject], total: int, admin_username: str, *, role_exists: bool,
    admin_is_superuser: bool = True,
) -> list[Problem]:
    """One problem per object of `listed` (the first of `total` found), plus one for the rest."""
    role = sql.Identifier(tenant.username).as_string()
    create_role = "" if role_exists else f"first `CREATE ROLE {role} NOLOGIN` (the adoption then imports it), then "
    # ALTER … OWNER TO needs the right to SET ROLE to the new owner, which a CREATEROLE admin lacks
    # on PostgreSQL 15 and older (and on 16+ unless createrole_self_grant includes `set`).
    set_role = "" if admin_is_superuser else (
        f" (the admin, not a superuser, must be able to SET ROLE {role}: where it cannot, `GRANT {role} TO "
        f"{sql.Identifier(admin_username).as_string()}` first and REVOKE it after; an object a superuser owns needs a superuser)"
    )
    field = f"{tenant.name}.adopt"
    problems: list[Problem] = []
    count = 0
    for obj in listed:
        count += 1
        who = "the admin" if obj.owner == admin_username else "a superuser"
        if obj.kind == "extension":
            message = (
                f"extension {obj.name} has {obj.members} object{'s' if obj.members != 1 else ''} in {_where(tenant)}, "
                f"owned by {obj.owner!r} ({who}): adopted as they are, they would be a way for the tenant's code to run as {obj.owner!r}"
            )
            fix = (
                f"move the extension out with `ALTER EXTENSION {obj.name} SET SCHEMA <another schema>` if it is "
                f"relocatable, or drop it (`DROP EXTENSION {obj.name}`); never hand an extension's objects to the tenant"
            )
        else:
            message = (
                f"{obj.kind} {obj.name} in database {tenant.database!r} of server {tenant.server!r} is owned by {obj.owner!r} ({who}): "
                f"adopted as it is, it would be a way for the tenant's code to run as {obj.owner!r}"
            )
            fix = (
                f"{create_role}hand it to the tenant's role with `ALTER {obj.kind.upper()} {obj.name} OWNER TO {role}`{set_role}, "
                f"or drop it; never REASSIGN OWNED, which moves everything {obj.owner!r} owns in the database"
            )
        problems.append(Problem(tenant.file, tenant.line, field, message, fix))
    if total > count:
        more = total - count
        problems.append(
            Problem(
                tenant.file, tenant.line, field,
                f"{_where(tenant)} holds {more} more object{'s' if more != 1 else ''} owned by the admin or a superuser "
                f"than the {count} listed ({total} in all)",
                f"{create_role}hand each to the tenant's role with `ALTER … OWNER TO {role}`, or drop it, then run "
                f"the check again to list the rest; never REASSIGN OWNED",
            )  # fmt: skip
        )
    return problems


# Objects in the given schemas owned by the admin or a superuser, with what ALTER … OWNER TO
# takes for each. Left out, because they follow another object's owner: indexes (their
# table's: ALTER TABLE hands them over), identity and serial sequences of a table in the same
# schema (likewise), relations' row types (their relation's), array and multirange types
# (their element or range type's). Objects of an extension are counted per extension.
# At most %(limit)s rows per schema, each with the schema's total.
_ADMIN_OWNED_SQL = """
WITH schemas AS (
    SELECT oid, nspname FROM pg_namespace WHERE nspname = ANY(%(schemas)s)
), owned (nspname, kind, name, classid, objid, owner) AS (
    SELECT s.nspname,
           CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                          WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type' ELSE 'table' END,
           quote_ident(s.nspname) || '.' || quote_ident(c.relname), 'pg_class'::regclass, c.oid, c.relowner
    FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace
    WHERE c.relkind NOT IN ('i', 'I')
      AND NOT EXISTS (
          SELECT FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
          WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND t.relnamespace = c.relnamespace)
    UNION ALL
    SELECT s.nspname, CASE p.prokind WHEN 'a' THEN 'aggregate' WHEN 'p' THEN 'procedure' ELSE 'function' END,
           quote_ident(s.nspname) || '.' || quote_ident(p.proname) || '('
             || CASE WHEN p.prokind = 'a' AND p.pronargs = 0 THEN '*' ELSE pg_get_function_identity_arguments(p.oid) END || ')',
           'pg_proc'::regclass, p.oid, p.proowner
    FROM pg_proc p JOIN schemas s ON s.oid = p.pronamespace
    UNION ALL
    SELECT s.nspname, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END,
           quote_ident(s.nspname) || '.' || quote_ident(t.typname), 'pg_type'::regclass, t.oid, t.typowner
    FROM pg_type t JOIN schemas s ON s.oid = t.typnamespace
    WHERE t.typrelid = 0 AND t.typtype <> 'm' AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
    UNION ALL
    SELECT s.nspname, 'operator',
           quote_ident(s.nspname) || '.' || o.oprname || ' ('
             || CASE o.oprleft WHEN 0 THEN 'NONE' ELSE format_type(o.oprleft, NULL) END || ', '
             || CASE o.oprright WHEN 0 THEN 'NONE' ELSE format_type(o.oprright, NULL) END || ')',
           'pg_operator'::regclass, o.oid, o.oprowner
    FROM pg_operator o JOIN schemas s ON s.oid = o.oprnamespace
    UNION ALL
    SELECT s.nspname, 'collation', quote_ident(s.nspname) || '.' || quote_ident(c.collname), 'pg_collation'::regclass, c.oid, c.collowner
    FROM pg_collation c JOIN schemas s ON s.oid = c.collnamespace
    UNION ALL
    SELECT s.nspname, 'conversion', quote_ident(s.nspname) || '.' || quote_ident(c.conname), 'pg_conversion'::regclass, c.oid, c.conowner
    FROM pg_conversion c JOIN schemas s ON s.oid = c.connamespace
    UNION ALL
    SELECT s.nspname, 'operator class',
           quote_ident(s.nspname) || '.' || quote_ident(c.opcname) || ' USING ' || quote_ident(a.amname),
           'pg_opclass'::regclass, c.oid, c.opcowner
    FROM pg_opclass c JOIN schemas s ON s.oid = c.opcnamespace JOIN pg_am a ON a.oid = c.opcmethod
    UNION ALL
    SELECT s.nspname, 'operator family',
           quote_ident(s.nspname) || '.' || quote_ident(f.opfname) || ' USING ' || quote_ident(a.amname),
           'pg_opfamily'::regclass, f.oid, f.opfowner
    FROM pg_opfamily f JOIN schemas s ON s.oid = f.opfnamespace JOIN pg_am a ON a.oid = f.opfmethod
    UNION ALL
    SELECT s.nspname, 'text search configuration', quote_ident(s.nspname) || '.' || quote_ident(c.cfgname),
           'pg_ts_config'::regclass, c.oid, c.cfgowner
    FROM pg_ts_config c JOIN schemas s ON s.oid = c.cfgnamespace
    UNION ALL
    SELECT s.nspname, 'text search dictionary', quote_ident(s.nspname) || '.' || quote_ident(d.dictname),
           'pg_ts_dict'::regclass, d.oid, d.dictowner
    FROM pg_ts_dict d JOIN schemas s ON s.oid = d.dictnamespace
    UNION ALL
    SELECT s.nspname, 'statistics', quote_ident(s.nspname) || '.' || quote_ident(x.stxname),
           'pg_statistic_ext'::regclass, x.oid, x.stxowner
    FROM pg_statistic_ext x JOIN schemas s ON s.oid = x.stxnamespace
), flagged AS (
    SELECT o.nspname, o.kind, o.name, r.rolname, x.extname
    FROM owned o
    JOIN pg_roles r ON r.oid = o.owner
    LEFT JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid AND d.objsubid = 0
                         AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
    LEFT JOIN pg_extension x ON x.oid = d.refobjid
    WHERE r.rolname = %(admin)s OR r.rolsuper
), listed AS (
    SELECT nspname, kind, name, rolname, 1::bigint AS members FROM flagged WHERE extname IS NULL
    UNION ALL
    SELECT nspname, 'extension', quote_ident(extname), rolname, count(*)
    FROM flagged WHERE extname IS NOT NULL GROUP BY nspname, extname, rolname
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY nspname ORDER BY kind, name COLLATE "C", rolname COLLATE "C") AS n,
           count(*) OVER (PARTITION BY nspname) AS total
    FROM listed
)
SELECT nspname, kind, name, rolname, members, total FROM ranked WHERE n <= %(limit)s ORDER BY nspname, n
"""


def _admin_owned_objects(conn: psycopg.Connection, schemas: list[str], admin_username: str) -> dict[str, tuple[list[OwnedObject], int]]:
    """Schema -> (its first MAX_LISTED objects owned by the admin or a superuser, how many in all)."""
    found: dict[str, tuple[list[OwnedObject], int]] = {}
    rows = conn.execute(_ADMIN_OWNED_SQL, {"schemas": schemas, "admin": admin_username, "limit": MAX_LISTED})
    for schema, kind, name, owner, members, total in rows:
        listed, _ = found.setdefault(schema, ([], total))
        listed.append(OwnedObject(kind, name, owner, members))
    return found
