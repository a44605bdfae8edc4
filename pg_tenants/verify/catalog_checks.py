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

from .findings import Code, Finding, database_subject
from .fleet import Tenant
from .role_settings import Mismatch, as_dict, database_mismatches, role_mismatches
from .search_path import parse_search_path, setting_value

# pg_default_acl.defaclobjtype, as ALTER DEFAULT PRIVILEGES names them.
DEFAULT_ACL_OBJECTS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas",
                       "L": "large objects"}

# Attributes a tenant role must (True) or must not (False) have, keyed by pg_roles column.
# LOGIN depends on the role's part (login or owner role) and on the state; INHERIT on the
# part too (the owner INHERIT, login slots NOINHERIT): see _role_findings.
EXPECTED_ATTRIBUTES: dict[str, tuple[bool, str]] = {
    "rolsuper": (False, "SUPERUSER"),
    "rolcreatedb": (False, "CREATEDB"),
    "rolcreaterole": (False, "CREATEROLE"),
    "rolreplication": (False, "REPLICATION"),
    "rolbypassrls": (False, "BYPASSRLS"),
}

# One row per tenant role: the owner role (is_owner) and its login roles (logs_in; the owner
# itself for a single-login tenant, none once offboarded). owner_name: the tenant's owner role.
_FLEET = """
t(tenant, rolname, nspname, datname, is_owner, owner_name, logs_in, connlimit, valid_until) AS (
    SELECT * FROM unnest(%(tenants)s::text[], %(roles)s::text[], %(schemas)s::text[], %(databases)s::text[],
                         %(owners)s::boolean[], %(owner_names)s::text[], %(logs_in)s::boolean[],
                         %(connlimits)s::int[], %(valid_untils)s::text[])
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

# PostgreSQL 16+: whether a login slot's membership in its owner role inherits privileges
# (pg_auth_members.inherit_option; the role's own INHERIT only sets the default of new grants).
_SLOT_MEMBERSHIP_INHERITS = """(
    SELECT bool_or(m.inherit_option) FROM pg_auth_members m JOIN pg_roles o ON o.oid = m.roleid
     WHERE m.member = r.oid AND o.rolname = t.owner_name AND NOT t.is_owner)"""

ROLES_SQL = (
    "WITH " + _FLEET + """
SELECT t.tenant, t.rolname, r.oid IS NOT NULL AS role_exists, r.rolcanlogin, r.rolinherit, r.rolsuper,
       r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
       {password_kind} AS password_kind,
       {membership_inherits} AS membership_inherits,
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

# Every role that can act as a zero-downtime login slot, directly or through other roles
# (the admin aside, as for role_has_members). One that reaches both slots of a tenant, or
# a slot that reaches the other, holds both credentials.
SLOT_MEMBERS_SQL = (
    "WITH RECURSIVE " + _FLEET + """,
slots AS (SELECT tenant, roleid FROM tr WHERE logs_in AND NOT is_owner),
members(member, slot) AS (
    SELECT m.member, s.roleid FROM slots s JOIN pg_auth_members m ON m.roleid = s.roleid
    UNION
    SELECT m.member, x.slot FROM members x JOIN pg_auth_members m ON m.roleid = x.member
)
SELECT s.tenant, pg_get_userbyid(x.member) AS member, pg_get_userbyid(x.slot) AS slot
  FROM members x JOIN slots s ON s.roleid = x.slot
 WHERE pg_get_userbyid(x.member) <> %(admin)s
"""
)

# pg_db_role_setting rows of tenant roles (any database, or all), and of tenant databases for
# every role. ALTER ROLE ALL SET (no role, no database) is server configuration: not read.
SETTINGS_SQL = (
    "WITH " + _FLEET + """
SELECT tr.tenant, tr.rolname, d.datname, s.setconfig
  FROM tr JOIN pg_db_role_setting s ON s.setrole = tr.roleid LEFT JOIN pg_database d ON d.oid = s.setdatabase
UNION ALL
SELECT NULL, NULL, d.datname, s.setconfig
  FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
 WHERE s.setrole = 0 AND d.datname IN (SELECT datname FROM t)
"""
)

# Roles an offboarded tenant must no longer have (its former login slots).
FORMER_SLOTS_SQL = """
SELECT f.tenant, f.rolname, r.rolcanlogin
  FROM unnest(%(tenants)s::text[], %(roles)s::text[]) AS f(tenant, rolname) JOIN pg_roles r ON r.rolname = f.rolname
"""

# One row per tenant role of this database: the schema's state (owner rows) and CONNECT.
OWN_STATE_SQL = (
    "WITH " + _FLEET + """
SELECT t.tenant, t.rolname, t.is_owner, r.oid IS NOT NULL AS role_exists,
       n.oid IS NOT NULL AS schema_exists, pg_get_userbyid(n.nspowner) AS schema_owner,
       has_schema_privilege(r.oid, n.oid, 'USAGE') AS has_usage,
       has_schema_privilege(r.oid, n.oid, 'CREATE') AS has_create,
       has_database_privilege(r.oid, current_database(), 'CONNECT') AS has_connect
FROM t LEFT JOIN pg_roles r ON r.rolname = t.rolname
       LEFT JOIN pg_namespace n ON n.nspname = t.nspname
WHERE t.datname = current_database()
"""
)

# Default privileges granted to a tenant role, in this database. A role's own privileges in
# its global entries (PostgreSQL stores the whole ACL there) are no grant.
DEFAULT_ACL_SQL = (
    "WITH " + _FLEET + """
SELECT tr.tenant, tr.rolname AS grantee, pg_get_userbyid(d.defaclrole) AS for_role, n.nspname,
       d.defaclobjtype::text AS objtype,
       string_agg(e.privilege_type || CASE WHEN e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, ', '
                  ORDER BY e.privilege_type) AS privileges
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
       CROSS JOIN LATERAL aclexplode(d.defaclacl) e
       JOIN tr ON tr.roleid = e.grantee
 WHERE e.grantee <> d.defaclrole
 GROUP BY tr.tenant, tr.rolname, d.defaclrole, n.nspname, d.defaclobjtype
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
                       WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'L' THEN 'large objects'
                       ELSE 'schemas' END),
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

# Every object that lives in a schema, with its owner. Indexes and sequences linked to a
# table always have the table's owner (ALTER TABLE … OWNER moves them along): the table is
# the finding, so they are listed only should they ever differ. Types are the standalone
# ones: row types of relations are their relation, array and multirange types follow their
# element or range type, whose constructor functions are internal to it. Event triggers,
# extensions and large objects are in no schema.
_SCHEMA_OBJECTS = """
objects(kind, object, nspoid, owner, secdef) AS (
    SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table'
                WHEN 'c' THEN 'type' WHEN 'i' THEN 'index' WHEN 'I' THEN 'partitioned index'
                WHEN 't' THEN 'TOAST table' ELSE 'relation' END,
           format('%%I.%%I', n.nspname, c.relname), c.relnamespace, c.relowner, false
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE """ + _NON_SYSTEM + """
       AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class tc ON tc.oid = i.indrelid
                        WHERE i.indexrelid = c.oid AND tc.relowner = c.relowner)
       AND NOT EXISTS (SELECT 1 FROM pg_depend dep JOIN pg_class tc ON tc.oid = dep.refobjid
                        WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
                          AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
                          AND c.relkind = 'S' AND tc.relowner = c.relowner)
    UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
           format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           p.pronamespace, p.proowner, p.prosecdef
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE """ + _NON_SYSTEM + """
       -- the constructors PostgreSQL makes for a range type: internal, owned by the bootstrap superuser
       AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_proc'::regclass AND dep.objid = p.oid
                          AND dep.refclassid = 'pg_type'::regclass AND dep.deptype = 'i')
    UNION ALL
    SELECT CASE y.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, format('%%I.%%I', n.nspname, y.typname),
           y.typnamespace, y.typowner, false
      FROM pg_type y JOIN pg_namespace n ON n.oid = y.typnamespace
     WHERE """ + _NON_SYSTEM + """ AND y.typrelid = 0 AND y.typtype <> 'm'
       AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = y.oid)
    UNION ALL
    SELECT 'operator', format('%%I.%%s(%%s, %%s)', n.nspname, o.oprname,
                              CASE WHEN o.oprleft = 0 THEN 'NONE' ELSE format_type(o.oprleft, NULL) END,
                              CASE WHEN o.oprright = 0 THEN 'NONE' ELSE format_type(o.oprright, NULL) END),
           o.oprnamespace, o.oprowner, false
      FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'collation', format('%%I.%%I', n.nspname, c.collname), c.collnamespace, c.collowner, false
      FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'conversion', format('%%I.%%I', n.nspname, c.conname), c.connamespace, c.conowner, false
      FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'operator class', format('%%I.%%I USING %%I', n.nspname, c.opcname, am.amname),
           c.opcnamespace, c.opcowner, false
      FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace JOIN pg_am am ON am.oid = c.opcmethod
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'operator family', format('%%I.%%I USING %%I', n.nspname, f.opfname, am.amname),
           f.opfnamespace, f.opfowner, false
      FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'text search configuration', format('%%I.%%I', n.nspname, c.cfgname), c.cfgnamespace, c.cfgowner, false
      FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'text search dictionary', format('%%I.%%I', n.nspname, d.dictname), d.dictnamespace, d.dictowner, false
      FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'statistics', format('%%I.%%I', n.nspname, x.stxname), x.stxnamespace, x.stxowner, false
      FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace
     WHERE """ + _NON_SYSTEM + """
    UNION ALL
    SELECT 'schema', format('%%I', n.nspname), n.oid, n.nspowner, false
      FROM pg_namespace n
     WHERE """ + _NON_SYSTEM + """
)"""

OWNERSHIP_SQL = (
    "WITH " + _FLEET + """,
tenant_schemas AS (
    SELECT t.tenant, n.oid AS nspoid, r.oid AS owner_oid, quote_ident(t.rolname) AS owner_ident
      FROM t JOIN pg_namespace n ON n.nspname = t.nspname LEFT JOIN pg_roles r ON r.rolname = t.rolname
     WHERE t.is_owner AND t.datname = current_database()
),""" + _SCHEMA_OBJECTS + """
-- in a tenant's schema, owned by anyone but the tenant's owner role
SELECT ts.tenant AS schema_tenant, ts.owner_ident, o.kind, o.object, o.secdef,
       ow.rolname AS owner, ow.rolsuper AS owner_is_superuser,
       (SELECT min(x.tenant) FROM tr x WHERE x.roleid = o.owner) AS owner_tenant
  FROM objects o JOIN tenant_schemas ts ON ts.nspoid = o.nspoid
  LEFT JOIN pg_roles ow ON ow.oid = o.owner
 WHERE o.kind <> 'schema'  -- the schema itself: a schema_owner finding
   AND o.owner IS DISTINCT FROM ts.owner_oid
UNION ALL
-- owned by a tenant role, in no tenant's schema
SELECT NULL, NULL, o.kind, o.object, o.secdef, tr.rolname, false, tr.tenant
  FROM objects o JOIN tr ON tr.roleid = o.owner
 WHERE NOT EXISTS (SELECT 1 FROM tenant_schemas ts WHERE ts.nspoid = o.nspoid)
"""
)

LARGE_OBJECTS_SQL = (
    "WITH " + _FLEET + """
SELECT tr.tenant, tr.rolname, count(*) AS large_objects
  FROM pg_largeobject_metadata l JOIN tr ON tr.roleid = l.lomowner
 GROUP BY tr.tenant, tr.rolname
"""
)

# The ALTER statement for each kind of schema object; None: owned through another object.
_ALTER = {
    "table": "TABLE", "partitioned table": "TABLE", "view": "VIEW", "materialized view": "MATERIALIZED VIEW",
    "sequence": "SEQUENCE", "foreign table": "FOREIGN TABLE", "type": "TYPE", "domain": "DOMAIN",
    "function": "FUNCTION", "procedure": "PROCEDURE", "aggregate": "AGGREGATE", "operator": "OPERATOR",
    "collation": "COLLATION", "conversion": "CONVERSION", "operator class": "OPERATOR CLASS",
    "operator family": "OPERATOR FAMILY", "text search configuration": "TEXT SEARCH CONFIGURATION",
    "text search dictionary": "TEXT SEARCH DICTIONARY", "statistics": "STATISTICS", "schema": "SCHEMA",
}
# Kinds whose names share a namespace with tables, types, functions or operators are shown
# bare in a finding's detail (as always); the others carry their kind, so names cannot collide.
_BARE_DETAIL_KINDS = frozenset({
    "table", "partitioned table", "view", "materialized view", "sequence", "foreign table", "type", "domain",
    "index", "partitioned index", "TOAST table", "relation", "function", "procedure", "aggregate", "operator",
})


@dataclass(frozen=True)
class AdminContext:
    """Who runs the checks, and what that login may read."""

    admin_role: str  # the role that owns tenant schemas
    can_read_passwords: bool  # pg_authid is readable (superuser)
    server_version_num: int = 0  # e.g. 160004


@dataclass
class DatabaseChecks:
    """What the checks of one database found, and the large objects each tenant owns there."""

    findings: list[Finding]
    large_objects: dict[str, int]  # tenant name -> count owned by its owner role


def _params(tenants: Sequence[Tenant], admin_role: str) -> dict[str, object]:
    rows = [(t, role) for t in tenants for role in t.roles]
    return {
        "tenants": [t.name for t, _ in rows],
        "roles": [role for _, role in rows],
        "schemas": [t.schema for t, _ in rows],
        "databases": [t.database for t, _ in rows],
        "owners": [role == t.role for t, role in rows],
        "owner_names": [t.role for t, _ in rows],
        "logs_in": [role in t.login_roles for t, role in rows],
        "connlimits": [t.declared.connection_limit if t.declared else None for t, _ in rows],
        "valid_untils": [t.declared.valid_until if t.declared else None for t, _ in rows],
        "admin": admin_role,
    }


def admin_context(conn: psycopg.Connection, admin_role: str | None) -> AdminContext:
    row = conn.execute(
        "SELECT current_user, has_table_privilege('pg_catalog.pg_authid', 'SELECT'),"
        " current_setting('server_version_num')::int"
    ).fetchone()
    assert row is not None
    return AdminContext(admin_role=admin_role or row[0], can_read_passwords=bool(row[1]), server_version_num=int(row[2]))


def check_roles(conn: psycopg.Connection, tenants: Sequence[Tenant], ctx: AdminContext) -> list[Finding]:
    """Attributes, passwords, settings, memberships and former slots: cluster-wide, once per server."""
    password_kind = sql.SQL(_PASSWORD_KIND if ctx.can_read_passwords else "NULL::text")
    inherits = sql.SQL(_SLOT_MEMBERSHIP_INHERITS if ctx.server_version_num >= 160000 else "NULL::boolean")
    query = sql.SQL(ROLES_SQL).format(password_kind=password_kind, membership_inherits=inherits)
    params = _params(tenants, ctx.admin_role)
    by_name = {t.name: t for t in tenants}
    findings: list[Finding] = []
    existing: set[tuple[str, str]] = set()
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query, params):
            findings += _role_findings(row, by_name[row["tenant"]], ctx)
            if row["role_exists"]:
                existing.add((row["tenant"], row["rolname"]))
        for row in cur.execute(MEMBERSHIPS_SQL, params):
            finding = _membership_finding(row, by_name[row["tenant"]])
            if finding is not None:
                findings.append(finding)
        findings += _slot_sharing_findings(cur.execute(SLOT_MEMBERS_SQL, params).fetchall(), by_name)
        findings += _setting_findings(cur.execute(SETTINGS_SQL, params).fetchall(), tenants, existing)
        findings += _former_slot_findings(cur, tenants)
    return findings


def _role_findings(row: dict, tenant: Tenant, ctx: AdminContext) -> list[Finding]:
    name, role = tenant.name, row["rolname"]
    if not row["role_exists"]:
        return [Finding(name, Code.ROLE_MISSING, role, f"role {role} does not exist")]
    findings = []
    for column, (expected, wrong_name) in EXPECTED_ATTRIBUTES.items():
        if bool(row[column]) != expected:
            findings.append(Finding(name, Code.ROLE_ATTRIBUTE, wrong_name,
                                    f"role {role} is {wrong_name}; it is declared without it"))
    findings += _inherit_findings(row, tenant)
    should_log_in = role in tenant.login_roles and tenant.state == "active"
    if row["rolcanlogin"] and not should_log_in:
        why = {"suspended": "the tenant is suspended", "offboarded": "the tenant is offboarded"}.get(
            tenant.state, "it is the owner role, not a login role")
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "LOGIN", f"role {role} is LOGIN, but {why}"))
    elif should_log_in and not row["rolcanlogin"]:
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "NOLOGIN",
                                f"role {role} is NOLOGIN; the tenant must be able to log in"))
    kind = row["password_kind"]
    if tenant.offboarded:
        if kind is not None and kind != "none":
            findings.append(Finding(name, Code.OFFBOARDED_HAS_PASSWORD, role,
                                    f"role {role} of offboarded tenant {name} still has a password ({kind})"))
    elif kind is not None and kind != "scram" and not (kind == "none" and role not in tenant.login_roles):
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


def _inherit_findings(row: dict, tenant: Tenant) -> list[Finding]:
    """The owner role INHERIT; a login slot NOINHERIT, and on 16+ its membership without INHERIT."""
    role = row["rolname"]
    if role not in tenant.slots:
        if not row["rolinherit"]:
            return [Finding(tenant.name, Code.ROLE_ATTRIBUTE, "NOINHERIT",
                            f"role {role} is NOINHERIT; it is declared INHERIT")]
        return []
    findings = []
    if row["rolinherit"]:
        findings.append(Finding(tenant.name, Code.LOGIN_SLOT_INHERITS, f"{role} INHERIT",
                                f"login slot {role} is INHERIT: it holds the privileges of {tenant.role} without "
                                f"SET role, so after RESET ROLE it can create objects it owns itself"))
    if row["membership_inherits"]:
        findings.append(Finding(tenant.name, Code.LOGIN_SLOT_INHERITS, f"{role} inherit_option",
                                f"login slot {role}'s membership in {tenant.role} has INHERIT TRUE: it holds "
                                f"the owner's privileges without SET role"))
    return findings


def _membership_finding(row: dict, tenant: Tenant) -> Finding | None:
    role, other = row["rolname"], row["other"]
    if row["direction"] == "member_of":
        if role in tenant.slots and other == tenant.role:
            return None  # a zero-downtime login slot acting as its owner role
        return Finding(tenant.name, Code.UNEXPECTED_MEMBERSHIP, other,
                       f"role {role} is a member of {other} and gains its privileges")
    if role == tenant.role and other in tenant.slots:
        return None
    return Finding(tenant.name, Code.ROLE_HAS_MEMBERS, other,
                   f"role {other} is a member of {role} and can act as this tenant")


def _slot_sharing_findings(rows: list[dict], by_name: dict[str, Tenant]) -> list[Finding]:
    reached: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        reached.setdefault((row["tenant"], row["member"]), set()).add(row["slot"])
    findings = []
    for (name, member), slots in sorted(reached.items()):
        tenant = by_name[name]
        both = set(tenant.slots)
        if member in both:
            slots = slots | {member}
        if len(both) < 2 or not both <= slots:
            continue
        if member in both:
            other = next(s for s in tenant.slots if s != member)
            message = (f"login slot {member} is a member of the other slot {other}: one login holds both "
                       f"credentials, so rotating {other}'s password does not lock it out")
        else:
            message = (f"role {member} is a member of both login slots {', '.join(tenant.slots)}: one login "
                       f"holds both credentials, so no rotation ever locks it out")
        findings.append(Finding(name, Code.LOGIN_SHARED_BY_SLOTS, member, message))
    return findings


def _setting_findings(rows: list[dict], tenants: Sequence[Tenant], existing: set[tuple[str, str]]) -> list[Finding]:
    """pg_db_role_setting against the declared settings (role_settings); missing roles are role_missing."""
    by_role = {(t.name, role): t for t in tenants for role in t.roles if (t.name, role) in existing}
    role_wide: dict[tuple[str, str], dict[str, str]] = {key: {} for key in by_role}
    per_database: dict[tuple[str, str], dict[str, dict[str, str]]] = {key: {} for key in by_role}
    database_wide: dict[str, dict[str, str]] = {}
    for row in rows:
        settings = as_dict(row["setconfig"])
        if row["tenant"] is None:  # a tenant database, for every role
            database_wide.setdefault(row["datname"], {}).update(settings)
        elif row["datname"] is None:
            role_wide[(row["tenant"], row["rolname"])].update(settings)
        else:
            per_database[(row["tenant"], row["rolname"])].setdefault(row["datname"], {}).update(settings)
    findings = []
    for (name, role), tenant in by_role.items():
        for database, mismatch in role_mismatches(tenant, role, role_wide[(name, role)], per_database[(name, role)]):
            findings.append(_setting_finding(name, role, database, mismatch))
    declared_databases = {t.database for t in tenants if t.declared is not None}
    for datname, settings in sorted(database_wide.items()):
        for mismatch in database_mismatches(settings, known=datname in declared_databases):
            findings.append(Finding(
                database_subject(datname), Code.ROLE_SETTING_MISMATCH, mismatch.setting,
                f"database {datname} sets {mismatch.setting}={mismatch.actual} for every role, its tenants "
                f"included; nothing declares it"))
    return findings


def _setting_finding(name: str, role: str, database: str | None, mismatch: Mismatch) -> Finding:
    where = "" if database is None else f" in database {database}"
    detail = f"{role} {mismatch.setting}{where}"
    if database is not None:
        message = (f"role {role} has {mismatch.setting}={mismatch.actual}{where} (ALTER ROLE … IN DATABASE); "
                   f"nothing declares a per-database setting")
    elif mismatch.expected is None:
        message = f"role {role} has {mismatch.setting}={mismatch.actual}; it is not declared"
    elif mismatch.actual is None:
        message = f"role {role} has no {mismatch.setting}; declared: {mismatch.expected}"
    else:
        message = f"role {role} has {mismatch.setting}={mismatch.actual}; declared: {mismatch.expected}"
    return Finding(name, Code.ROLE_SETTING_MISMATCH, detail, message)


def _former_slot_findings(cur: psycopg.Cursor, tenants: Sequence[Tenant]) -> list[Finding]:
    fleet_roles = {role for t in tenants for role in t.roles}
    pairs = [(t, slot) for t in tenants for slot in t.former_slots if slot not in fleet_roles]
    if not pairs:
        return []
    by_name = {t.name: t for t in tenants}
    rows = cur.execute(FORMER_SLOTS_SQL, {"tenants": [t.name for t, _ in pairs], "roles": [s for _, s in pairs]})
    findings = []
    for row in rows.fetchall():
        tenant, slot = by_name[row["tenant"]], row["rolname"]
        can = "and can log in" if row["rolcanlogin"] else "(NOLOGIN)"
        findings.append(Finding(tenant.name, Code.OFFBOARDED_SLOT_PRESENT, slot,
                                f"login slot {slot} of offboarded tenant {tenant.name} still exists {can}"))
    return findings


def check_database(conn: psycopg.Connection, tenants: Sequence[Tenant], ctx: AdminContext) -> DatabaseChecks:
    """Own-schema state, ACL drift, default privileges, object and large object ownership in the
    database `conn` is connected to.

    `tenants` is every tenant on the server: tenants of other databases can still be granted
    access here, and count as "other tenants" for this database's schemas.
    """
    params = _params(tenants, ctx.admin_role)
    by_name = {t.name: t for t in tenants}
    datname = conn.info.dbname
    tenant_databases = {t.database for t in tenants}
    findings: list[Finding] = []
    large_objects: dict[str, int] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(OWN_STATE_SQL, params):
            findings += _own_state_findings(row, by_name[row["tenant"]], ctx.admin_role)
        for row in cur.execute(DEFAULT_ACL_SQL, params):
            findings.append(_default_acl_finding(row, by_name[row["tenant"]], datname))
        for row in cur.execute(PRIVILEGES_SQL, params):
            finding = classify_grant(row, by_name, datname, tenant_databases)
            if finding is not None:
                findings.append(finding)
        for row in cur.execute(OWNERSHIP_SQL, params):
            findings += _ownership_findings(row, by_name, ctx.admin_role)
        for row in cur.execute(LARGE_OBJECTS_SQL, params):
            tenant = by_name[row["tenant"]]
            if row["rolname"] == tenant.role:
                large_objects[tenant.name] = large_objects.get(tenant.name, 0) + int(row["large_objects"])
            else:
                findings.append(Finding(
                    tenant.name, Code.LARGE_OBJECTS_OWNED, row["rolname"],
                    f"login slot {row['rolname']} owns {row['large_objects']} large object(s) in database {datname}; "
                    f"they belong to the owner role {tenant.role}, or the other slot cannot reach them"))
    return DatabaseChecks(findings, large_objects)


def _own_state_findings(row: dict, tenant: Tenant, admin_role: str) -> list[Finding]:
    name, role = tenant.name, row["rolname"]
    findings = []
    if row["is_owner"]:
        if not row["schema_exists"]:
            return [Finding(name, Code.SCHEMA_MISSING, tenant.schema, f"schema {tenant.schema} does not exist")]
        owner = row["schema_owner"]
        if owner != admin_role:
            why = "the tenant itself, so it can grant its schema to others" if owner == tenant.role else owner
            findings.append(Finding(name, Code.SCHEMA_OWNER, owner,
                                    f"schema {tenant.schema} is owned by {why}; expected the admin role {admin_role}"))
        for column, privilege in (("has_usage", "USAGE"), ("has_create", "CREATE")):
            if row[column] is False:
                findings.append(Finding(name, Code.OWN_SCHEMA_PRIVILEGE_MISSING, privilege,
                                        f"role {role} lacks {privilege} on its schema {tenant.schema}"))
    if tenant.offboarded and row["has_connect"]:
        findings.append(Finding(name, Code.OFFBOARDED_HAS_CONNECT, tenant.database,
                                f"role {role} of offboarded tenant {name} can still connect to database "
                                f"{tenant.database} (a grant to it, a role it inherits from, or PUBLIC)"))
    elif role in tenant.login_roles and row["has_connect"] is False:
        detail = tenant.database if role == tenant.role else f"{tenant.database} for {role}"
        findings.append(Finding(name, Code.CONNECT_MISSING, detail,
                                f"role {role} lacks CONNECT on its database {tenant.database}"))
    return findings


def _default_acl_finding(row: dict, tenant: Tenant, datname: str) -> Finding:
    objects = DEFAULT_ACL_OBJECTS.get(row["objtype"], f"objects of type {row['objtype']}")
    scope = f" in schema {row['nspname']}" if row["nspname"] is not None else ""
    grantee = row["grantee"]
    return Finding(
        tenant.name, Code.DEFAULT_PRIVILEGES_PRESENT, f"{objects} for role {row['for_role']}{scope} to {grantee}",
        f"default privileges for role {row['for_role']}{scope} (database {datname}) grant {row['privileges']} on new "
        f"{objects} to {grantee}: the ownership model has no default privileges")


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
            return None  # its own database; an offboarded tenant's CONNECT is offboarded_has_connect
        if privilege == "CONNECT":
            return Finding(tenant.name, Code.CAN_CONNECT_OTHER_DATABASE, row["datname"],
                           f"role {tenant.role} can connect to {obj}{via}")
        return Finding(tenant.name, Code.EXTRA_GRANT, grant, f"role {tenant.role} holds {grant}{via}")
    if object_tenant is not None and object_tenant != tenant.name:
        return Finding(tenant.name, Code.CROSS_TENANT_ACCESS, f"{privilege} on {obj}",
                       f"role {tenant.role} holds {grant}{via}, which belongs to tenant {object_tenant}")
    if row["via"]:
        return None  # inherited privileges on its own or non-tenant objects: the membership is the finding
    if kind == "default privileges":
        return None  # granted to the tenant itself: a default_privileges_present finding
    if object_tenant == tenant.name:
        if kind == "schema" and row["grantable"]:
            return Finding(tenant.name, Code.EXTRA_GRANT, grant,
                           f"role {tenant.role} holds {grant}: it can share its schema with other roles")
        return None
    return Finding(tenant.name, Code.EXTRA_GRANT, grant, f"role {tenant.role} holds {grant} outside its own schema")


def _object_detail(kind: str, obj: str) -> str:
    return obj if kind in _BARE_DETAIL_KINDS else f"{kind} {obj}"


def _owner_description(row: dict, tenant: Tenant, by_name: dict[str, Tenant], admin_role: str) -> str:
    owner, owner_tenant = row["owner"], row["owner_tenant"]
    superuser = " (a superuser)" if row["owner_is_superuser"] else ""
    if owner_tenant == tenant.name:
        return f"its own login slot {owner}"
    if owner_tenant is not None:
        return f"role {owner} of tenant {by_name[owner_tenant].name}"
    if owner == admin_role:
        return f"the admin {owner}{superuser}"
    if row["owner_is_superuser"]:
        return f"superuser {owner}"
    return f"role {owner}"


def _ownership_findings(row: dict, by_name: dict[str, Tenant], admin_role: str) -> list[Finding]:
    kind, obj = row["kind"], row["object"]
    detail = _object_detail(kind, obj)
    if row["schema_tenant"] is None:
        owner = by_name[row["owner_tenant"]]
        return [Finding(owner.name, Code.OBJECT_OUTSIDE_OWN_SCHEMA, detail,
                        f"role {row['owner']} owns {kind} {obj} outside its schema {owner.schema}")]
    tenant = by_name[row["schema_tenant"]]
    owner = _owner_description(row, tenant, by_name, admin_role)
    alter = _ALTER.get(kind)
    fix = f" (ALTER {alter} {obj} OWNER TO {row['owner_ident']}, or drop it)" if alter else ""
    findings = [Finding(tenant.name, Code.FOREIGN_OWNED_OBJECT, detail,
                        f"{kind} {obj} is owned by {owner}, not by the tenant's owner role {tenant.role}{fix}")]
    if row["secdef"]:
        findings.append(Finding(
            tenant.name, Code.PRIVILEGED_SECURITY_DEFINER, obj,
            f"SECURITY DEFINER {kind} {obj} runs with the privileges of {owner} for whoever calls it, "
            f"from a schema whose contents the tenant controls"))
    return findings
