"""Isolation checks read from the catalogs as the admin, for the whole fleet at once.

Each query takes the fleet as parallel arrays (`unnest`) and returns only what is worth
looking at, so the cost grows with the fleet and its ACL entries, not with tenant pairs.
Cross-tenant access comes from exploding the ACLs once and joining grantees against the
roles each tenant can act as (itself plus its memberships, transitively) — the same
information `has_schema_privilege` consults, without asking it N² times.

The SQL is static and every value is a bound parameter; nothing is spliced in by hand.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pg_tenants.tenant_privileges import DEFAULT_PRIVILEGES

from .findings import Code, Finding, database_subject
from .fleet import Tenant
from .search_path import parse_search_path, setting_value

_OBJTYPES = {"table": "r", "sequence": "S", "function": "f"}  # pg_default_acl.defaclobjtype
EXPECTED_DEFAULT_PRIVILEGES: dict[str, frozenset[str]] = {
    _OBJTYPES[object_type]: frozenset(privileges) for object_type, privileges in DEFAULT_PRIVILEGES.items()
}
_OBJTYPE_NAMES = {code: f"{object_type}s" for object_type, code in _OBJTYPES.items()}

# Attributes a tenant role must (True) or must not (False) have, keyed by pg_roles column.
# LOGIN depends on the role's part (login or owner role) and on suspension: see _role_findings.
EXPECTED_ATTRIBUTES: dict[str, tuple[bool, str]] = {
    "rolinherit": (True, "NOINHERIT"),
    "rolsuper": (False, "SUPERUSER"),
    "rolcreatedb": (False, "CREATEDB"),
    "rolcreaterole": (False, "CREATEROLE"),
    "rolreplication": (False, "REPLICATION"),
    "rolbypassrls": (False, "BYPASSRLS"),
}

# One row per tenant role: the owner role (is_owner) and any separate login roles.
_FLEET = """
t(tenant, rolname, nspname, datname, is_owner, connlimit, valid_until) AS (
    SELECT * FROM unnest(%(tenants)s::text[], %(roles)s::text[], %(schemas)s::text[], %(databases)s::text[],
                         %(owners)s::boolean[], %(connlimits)s::int[], %(valid_untils)s::text[])
),
tr AS (SELECT t.*, r.oid AS roleid FROM t JOIN pg_roles r ON r.rolname = t.rolname)
"""

# pg_authid is readable by superusers only; elsewhere the login check proves SCRAM instead.
_PASSWORD_KIND = """(
    SELECT CASE WHEN a.rolpassword IS NULL THEN 'none'
                WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%%' THEN 'scram'
                WHEN a.rolpassword LIKE 'md5%%' THEN 'md5'
                ELSE 'plaintext' END
    FROM pg_authid a WHERE a.oid = r.oid)"""

ROLES_SQL = (
    "WITH " + _FLEET + """
SELECT t.tenant, t.rolname, r.oid IS NOT NULL AS role_exists, r.rolcanlogin, r.rolinherit, r.rolsuper,
       r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
       {password_kind} AS password_kind,
       r.rolconnlimit, t.connlimit AS declared_connlimit,
       coalesce(r.rolvaliduntil::text, 'infinity') AS valid_until, t.valid_until AS declared_valid_until,
       CASE WHEN t.valid_until IS NULL THEN NULL
            WHEN t.valid_until = 'infinity' THEN coalesce(r.rolvaliduntil = 'infinity', true)
            ELSE r.rolvaliduntil = t.valid_until::timestamptz END AS valid_until_ok,
       -- the value the tenant's sessions get: a per-database setting wins over the role-wide one
       coalesce(
           (SELECT v FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase,
                   unnest(s.setconfig) v
             WHERE s.setrole = r.oid AND d.datname = t.datname AND v LIKE 'search_path=%%'),
           (SELECT v FROM pg_db_role_setting s, unnest(s.setconfig) v
             WHERE s.setrole = r.oid AND s.setdatabase = 0 AND v LIKE 'search_path=%%')
       ) AS search_path
FROM t LEFT JOIN pg_roles r ON r.rolname = t.rolname
"""
)

MEMBERSHIPS_SQL = (
    "WITH " + _FLEET + """
SELECT tr.tenant, tr.rolname, 'member_of' AS direction, g.rolname AS other
  FROM tr JOIN pg_auth_members m ON m.member = tr.roleid JOIN pg_roles g ON g.oid = m.roleid
UNION
SELECT tr.tenant, tr.rolname, 'has_member', mr.rolname
  FROM tr JOIN pg_auth_members m ON m.roleid = tr.roleid JOIN pg_roles mr ON mr.oid = m.member
 WHERE mr.rolname <> %(admin)s
"""
)

OWN_STATE_SQL = (
    "WITH " + _FLEET + """
SELECT t.tenant, n.oid IS NOT NULL AS schema_exists, pg_get_userbyid(n.nspowner) AS schema_owner,
       has_schema_privilege(r.oid, n.oid, 'USAGE') AS has_usage,
       has_schema_privilege(r.oid, n.oid, 'CREATE') AS has_create,
       has_database_privilege(r.oid, current_database(), 'CONNECT') AS has_connect,
       (SELECT array_agg(DISTINCT d.defaclobjtype::text || ':' || e.privilege_type)
          FROM pg_default_acl d, aclexplode(d.defaclacl) e
         WHERE d.defaclnamespace = n.oid AND e.grantee = r.oid
           AND d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = %(admin)s)) AS default_privileges
FROM t LEFT JOIN pg_roles r ON r.rolname = t.rolname
       LEFT JOIN pg_namespace n ON n.nspname = t.nspname
WHERE t.datname = current_database() AND t.is_owner
"""
)

# Every non-default ACL entry in this database (plus the shared pg_database), with the
# tenant whose schema holds the object, joined to the tenants that can act as the grantee.
_NON_SYSTEM = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"
PRIVILEGES_SQL = (
    "WITH RECURSIVE " + _FLEET + """,
acts_as(tenant, roleid, via) AS (
    SELECT tenant, roleid, NULL::oid FROM tr
    UNION
    SELECT a.tenant, m.roleid, coalesce(a.via, m.roleid)
      FROM acts_as a JOIN pg_auth_members m ON m.member = a.roleid
),
tenant_schemas AS (
    SELECT tr.tenant, n.oid AS nspoid FROM tr JOIN pg_namespace n ON n.nspname = tr.nspname
     WHERE tr.datname = current_database()
),
acl(kind, object, nspname, nspoid, datname, owner, grantee, privilege, grantable) AS (
    SELECT 'schema', format('schema %%I', n.nspname), n.nspname, n.oid, NULL, n.nspowner,
           e.grantee, e.privilege_type, e.is_grantable
      FROM pg_namespace n, aclexplode(n.nspacl) e
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END,
           format('%%I.%%I', n.nspname, c.relname), n.nspname, n.oid, NULL, c.relowner,
           e.grantee, e.privilege_type, e.is_grantable
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) e
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'column', format('%%I.%%I (%%I)', n.nspname, c.relname, a.attname), n.nspname, n.oid, NULL,
           c.relowner, e.grantee, e.privilege_type, e.is_grantable
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(a.attacl) e
     WHERE a.attacl IS NOT NULL AND """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'function', format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           n.nspname, n.oid, NULL, p.proowner, e.grantee, e.privilege_type, e.is_grantable
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) e
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    -- a NULL datacl means the built-in default, which gives PUBLIC CONNECT and TEMPORARY
    SELECT 'database', format('database %%I', d.datname), NULL, NULL, d.datname, d.datdba,
           e.grantee, e.privilege_type, e.is_grantable
      FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) e
     WHERE d.datallowconn
    UNION ALL
    SELECT 'default privileges',
           format('default privileges for role %%I%%s on %%s', pg_get_userbyid(d.defaclrole),
                  CASE WHEN d.defaclnamespace = 0 THEN '' ELSE format(' in schema %%I', n.nspname) END,
                  CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
                       WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' ELSE 'schemas' END),
           n.nspname, d.defaclnamespace, NULL, d.defaclrole, e.grantee, e.privilege_type, e.is_grantable
      FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
           aclexplode(d.defaclacl) e
),
entries AS (
    SELECT acl.*, ts.tenant AS object_tenant FROM acl LEFT JOIN tenant_schemas ts ON ts.nspoid = acl.nspoid
     WHERE acl.grantee <> acl.owner
)
SELECT a.tenant, CASE WHEN a.via IS NULL THEN NULL ELSE pg_get_userbyid(a.via) END AS via,
       e.kind, e.object, e.nspname, e.datname, e.object_tenant, e.privilege, e.grantable
  FROM entries e JOIN acts_as a ON a.roleid = e.grantee
UNION ALL
SELECT NULL, NULL, e.kind, e.object, e.nspname, e.datname, e.object_tenant, e.privilege, e.grantable
  FROM entries e WHERE e.grantee = 0
"""
)

OWNERSHIP_SQL = (
    "WITH " + _FLEET + """,
tenant_schemas AS (
    SELECT tr.tenant, n.oid AS nspoid FROM tr JOIN pg_namespace n ON n.nspname = tr.nspname
     WHERE tr.datname = current_database()
),
objects(kind, object, nspoid, owner) AS (
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'c' THEN 'type' ELSE 'table' END,
           format('%%I.%%I', n.nspname, c.relname), c.relnamespace, c.relowner
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
    UNION ALL
    SELECT 'function', format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           p.pronamespace, p.proowner
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    UNION ALL
    SELECT 'type', format('%%I.%%I', n.nspname, y.typname), y.typnamespace, y.typowner
      FROM pg_type y JOIN pg_namespace n ON n.oid = y.typnamespace
     WHERE y.typtype IN ('d', 'e', 'r', 'm')
    UNION ALL
    SELECT 'schema', format('schema %%I', n.nspname), n.oid, n.nspowner FROM pg_namespace n
)
SELECT tr.tenant AS owner_tenant, o.kind, o.object, ts.tenant AS schema_tenant
  FROM objects o JOIN tr ON tr.roleid = o.owner
  LEFT JOIN tenant_schemas ts ON ts.nspoid = o.nspoid
 WHERE ts.tenant IS DISTINCT FROM tr.tenant  -- a tenant owning its own schema is a schema_owner finding
"""
)


@dataclass(frozen=True)
class AdminContext:
    """Who runs the checks, and what that login may read."""

    admin_role: str  # the role that owns tenant schemas and their default privileges
    can_read_passwords: bool  # pg_authid is readable (superuser)


def _params(tenants: Sequence[Tenant], admin_role: str) -> dict[str, object]:
    rows = [(t, role) for t in tenants for role in t.roles]
    return {
        "tenants": [t.name for t, _ in rows],
        "roles": [role for _, role in rows],
        "schemas": [t.schema for t, _ in rows],
        "databases": [t.database for t, _ in rows],
        "owners": [role == t.role for t, role in rows],
        "connlimits": [t.declared.connection_limit if t.declared else None for t, _ in rows],
        "valid_untils": [t.declared.valid_until if t.declared else None for t, _ in rows],
        "admin": admin_role,
    }


def admin_context(conn: psycopg.Connection, admin_role: str | None) -> AdminContext:
    row = conn.execute(
        "SELECT current_user, has_table_privilege('pg_catalog.pg_authid', 'SELECT')"
    ).fetchone()
    assert row is not None
    return AdminContext(admin_role=admin_role or row[0], can_read_passwords=bool(row[1]))


def check_roles(conn: psycopg.Connection, tenants: Sequence[Tenant], ctx: AdminContext) -> list[Finding]:
    """Attributes, password storage, search_path and memberships: cluster-wide, once per server."""
    password_kind = sql.SQL(_PASSWORD_KIND if ctx.can_read_passwords else "NULL::text")
    query = sql.SQL(ROLES_SQL).format(password_kind=password_kind)
    params = _params(tenants, ctx.admin_role)
    by_name = {t.name: t for t in tenants}
    findings: list[Finding] = []
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query, params):
            findings += _role_findings(row, by_name[row["tenant"]])
        for row in cur.execute(MEMBERSHIPS_SQL, params):
            finding = _membership_finding(row, by_name[row["tenant"]])
            if finding is not None:
                findings.append(finding)
    return findings


def _role_findings(row: dict, tenant: Tenant) -> list[Finding]:
    name, role = tenant.name, row["rolname"]
    if not row["role_exists"]:
        return [Finding(name, Code.ROLE_MISSING, role, f"role {role} does not exist")]
    findings = []
    for column, (expected, wrong_name) in EXPECTED_ATTRIBUTES.items():
        if bool(row[column]) != expected:
            findings.append(Finding(name, Code.ROLE_ATTRIBUTE, wrong_name,
                                    f"role {role} is {wrong_name}; it is declared without it"))
    should_log_in = role in tenant.login_roles and not tenant.suspended
    if row["rolcanlogin"] and not should_log_in:
        why = "the tenant is suspended" if tenant.suspended else "it is the owner role, not a login role"
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "LOGIN", f"role {role} is LOGIN, but {why}"))
    elif should_log_in and not row["rolcanlogin"]:
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "NOLOGIN",
                                f"role {role} is NOLOGIN; the tenant must be able to log in"))
    kind = row["password_kind"]
    passwordless_owner = kind == "none" and role not in tenant.login_roles
    if kind is not None and kind != "scram" and not passwordless_owner:
        findings.append(Finding(name, Code.PASSWORD_NOT_SCRAM, kind,
                                f"role {role}'s password is stored as {kind}, not as a SCRAM-SHA-256 verifier"))
    value = setting_value(row["search_path"])
    if value is None or parse_search_path(value) != [tenant.schema]:
        shown = "not set" if value is None else f"set to {value}"
        findings.append(Finding(name, Code.SEARCH_PATH_MISMATCH, value or "",
                                f"role {role}'s search_path is {shown}; declared: {tenant.schema} only"))
    if row["declared_connlimit"] is not None and row["rolconnlimit"] != row["declared_connlimit"]:
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "CONNECTION LIMIT",
                                f"role {role} has CONNECTION LIMIT {row['rolconnlimit']}; "
                                f"declared: {row['declared_connlimit']}"))
    if row["valid_until_ok"] is False:
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "VALID UNTIL",
                                f"role {role} is VALID UNTIL {row['valid_until']}; declared: {row['declared_valid_until']}"))
    return findings


def _membership_finding(row: dict, tenant: Tenant) -> Finding | None:
    role, other = row["rolname"], row["other"]
    if row["direction"] == "member_of":
        if role in tenant.login_roles and other == tenant.role:
            return None  # a zero-downtime login role acting as its owner role
        return Finding(tenant.name, Code.UNEXPECTED_MEMBERSHIP, other,
                       f"role {role} is a member of {other} and gains its privileges")
    if role == tenant.role and other in tenant.login_roles:
        return None
    return Finding(tenant.name, Code.ROLE_HAS_MEMBERS, other,
                   f"role {other} is a member of {role} and can act as this tenant")


def check_database(conn: psycopg.Connection, tenants: Sequence[Tenant], ctx: AdminContext) -> list[Finding]:
    """Own-schema state, ACL drift and object ownership in the database `conn` is connected to.

    `tenants` is every tenant on the server: tenants of other databases can still be granted
    access here, and count as "other tenants" for this database's schemas.
    """
    params = _params(tenants, ctx.admin_role)
    by_name = {t.name: t for t in tenants}
    datname = conn.info.dbname
    tenant_databases = {t.database for t in tenants}
    findings: list[Finding] = []
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(OWN_STATE_SQL, params):
            findings += _own_state_findings(row, by_name[row["tenant"]], ctx.admin_role)
        for row in cur.execute(PRIVILEGES_SQL, params):
            finding = classify_grant(row, by_name, datname, tenant_databases)
            if finding is not None:
                findings.append(finding)
        for row in cur.execute(OWNERSHIP_SQL, params):
            findings.append(_ownership_finding(row, by_name))
    return findings


def _own_state_findings(row: dict, tenant: Tenant, admin_role: str) -> list[Finding]:
    name = tenant.name
    if not row["schema_exists"]:
        return [Finding(name, Code.SCHEMA_MISSING, tenant.schema, f"schema {tenant.schema} does not exist")]
    findings = []
    owner = row["schema_owner"]
    if owner != admin_role:
        why = "the tenant itself, so it can grant its schema to others" if owner == tenant.role else owner
        findings.append(Finding(name, Code.SCHEMA_OWNER, owner,
                                f"schema {tenant.schema} is owned by {why}; expected the admin role {admin_role}"))
    for column, privilege in (("has_usage", "USAGE"), ("has_create", "CREATE")):
        if row[column] is False:
            findings.append(Finding(name, Code.OWN_SCHEMA_PRIVILEGE_MISSING, privilege,
                                    f"role {tenant.role} lacks {privilege} on its schema {tenant.schema}"))
    if row["has_connect"] is False:
        findings.append(Finding(name, Code.CONNECT_MISSING, tenant.database,
                                f"role {tenant.role} lacks CONNECT on its database {tenant.database}"))
    if row["has_usage"] is not None:  # the role exists; default privileges are about it
        held = set(row["default_privileges"] or ())
        for objtype, expected in EXPECTED_DEFAULT_PRIVILEGES.items():
            missing = sorted(p for p in expected if f"{objtype}:{p}" not in held)
            if missing:
                findings.append(Finding(
                    name, Code.DEFAULT_PRIVILEGES_MISSING, f"{_OBJTYPE_NAMES[objtype]}: {', '.join(missing)}",
                    f"new {_OBJTYPE_NAMES[objtype]} the admin creates in {tenant.schema} will not grant "
                    f"{', '.join(missing)} to {tenant.role}"))
    return findings


def classify_grant(row: dict, by_name: dict[str, Tenant], datname: str,
                   tenant_databases: Collection[str]) -> Finding | None:
    """Decide whether one ACL entry (reaching a tenant, or PUBLIC) weakens isolation."""
    kind, obj, privilege = row["kind"], row["object"], row["privilege"]
    object_tenant = row["object_tenant"]
    grant = f"{privilege}{' WITH GRANT OPTION' if row['grantable'] else ''} on {obj}"
    if row["tenant"] is None:  # PUBLIC
        if kind == "database":
            target = database_subject(row["datname"])
            if privilege == "CONNECT":
                return Finding(target, Code.PUBLIC_CONNECT, row["datname"],
                               f"PUBLIC has CONNECT on {obj}: every tenant can connect to it")
            if privilege == "TEMPORARY" and row["datname"] in tenant_databases:
                return Finding(target, Code.PUBLIC_TEMP, row["datname"],
                               f"PUBLIC has TEMPORARY on {obj}: every tenant can create temporary tables")
            return Finding(target, Code.PUBLIC_GRANT, grant, f"PUBLIC has {grant}")
        if kind == "schema" and row["nspname"] == "public" and privilege == "CREATE":
            return Finding(database_subject(datname), Code.PUBLIC_CREATE_ON_PUBLIC_SCHEMA, "public",
                           f"PUBLIC has CREATE on schema public in database {datname}: every tenant can create there")
        if object_tenant is not None and not (kind == "function" and privilege == "EXECUTE"):
            # EXECUTE for PUBLIC is PostgreSQL's default on new functions; schema USAGE still guards them.
            return Finding(object_tenant, Code.PUBLIC_GRANT, grant,
                           f"PUBLIC has {grant}: every other tenant holds it too")
        return None

    tenant = by_name[row["tenant"]]
    via = f" through role {row['via']}" if row["via"] else ""
    if kind == "database":
        if row["datname"] == tenant.database and privilege == "CONNECT":
            return None
        if privilege == "CONNECT":
            return Finding(tenant.name, Code.CAN_CONNECT_OTHER_DATABASE, row["datname"],
                           f"role {tenant.role} can connect to {obj}{via}")
        return Finding(tenant.name, Code.EXTRA_GRANT, grant, f"role {tenant.role} holds {grant}{via}")
    if object_tenant is not None and object_tenant != tenant.name:
        return Finding(tenant.name, Code.CROSS_TENANT_ACCESS, f"{privilege} on {obj}",
                       f"role {tenant.role} holds {grant}{via}, which belongs to tenant {object_tenant}")
    if row["via"]:
        return None  # inherited privileges on its own or non-tenant objects: the membership is the finding
    if object_tenant == tenant.name:
        if kind == "schema" and row["grantable"]:
            return Finding(tenant.name, Code.EXTRA_GRANT, grant,
                           f"role {tenant.role} holds {grant}: it can share its schema with other roles")
        return None
    return Finding(tenant.name, Code.EXTRA_GRANT, grant, f"role {tenant.role} holds {grant} outside its own schema")


def _ownership_finding(row: dict, by_name: dict[str, Tenant]) -> Finding:
    owner = by_name[row["owner_tenant"]]
    schema_tenant = row["schema_tenant"]
    if schema_tenant is not None:
        return Finding(schema_tenant, Code.FOREIGN_OWNED_OBJECT, row["object"],
                       f"{row['kind']} {row['object']} is owned by {owner.role} of tenant {owner.name}")
    return Finding(owner.name, Code.OBJECT_OUTSIDE_OWN_SCHEMA, row["object"],
                   f"role {owner.role} owns {row['kind']} {row['object']} outside its schema {owner.schema}")
