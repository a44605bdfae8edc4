"""Catalog checks of the read-only login `<username>_ro`, as the admin.

What the model declares for it (components/readonly_login.py): NOINHERIT, a member of no role,
CONNECT on its database, USAGE on its schema, SELECT on every relation in it, and one default
privileges entry FOR ROLE <owner> IN SCHEMA <schema> granting SELECT ON TABLES to it, the only
default privileges the model has (`is_expected_default_acl`; any other is still
default_privileges_present). Attributes, password, settings, memberships and CONNECT are the
shared role checks (role_checks, database_checks, role_settings); this module adds what is particular to it.

`has_*_privilege` answers as PostgreSQL decides at run time for that role, PUBLIC included.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from ..findings import Code, Finding
from ..fleet import Tenant

# One row per finding, for the read-only logins of tenants in this database.
READONLY_SQL = """
WITH ro(tenant, rolname, owner_name, nspname) AS (
    SELECT * FROM unnest(%(tenants)s::text[], %(roles)s::text[], %(owners)s::text[], %(schemas)s::text[])
),
r AS (
    SELECT ro.*, n.oid AS nspoid FROM ro JOIN pg_roles x ON x.rolname = ro.rolname
      JOIN pg_namespace n ON n.nspname = ro.nspname
),
rel AS (
    SELECT r.tenant, r.rolname, c.oid, c.relkind, format('%%I.%%I', r.nspname, c.relname) AS object
      FROM r JOIN pg_class c ON c.relnamespace = r.nspoid
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
)
SELECT tenant, 'cannot_read' AS kind, object AS detail FROM rel
 WHERE relkind <> 'S' AND NOT has_table_privilege(rolname, oid, 'SELECT')
UNION ALL
SELECT tenant, 'can_write', p || ' on ' || object FROM rel,
       unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
 WHERE relkind <> 'S' AND has_table_privilege(rolname, oid, p)
UNION ALL
SELECT tenant, 'can_use_sequence', p || ' on ' || object FROM rel, unnest(ARRAY['USAGE', 'UPDATE', 'SELECT']) p
 WHERE relkind = 'S' AND has_sequence_privilege(rolname, oid, p)
UNION ALL
SELECT tenant, 'can_create', 'CREATE on schema ' || nspname FROM r WHERE has_schema_privilege(rolname, nspoid, 'CREATE')
UNION ALL
SELECT tenant, 'can_create', p || ' on database ' || current_database() FROM r, unnest(ARRAY['CREATE', 'TEMPORARY']) p
 WHERE has_database_privilege(rolname, current_database(), p)
UNION ALL
SELECT r.tenant, 'can_run_definer', format('%%I.%%I(%%s)', r.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
  FROM r JOIN pg_proc p ON p.pronamespace = r.nspoid
 WHERE p.prosecdef AND has_function_privilege(r.rolname, p.oid, 'EXECUTE')
UNION ALL
SELECT r.tenant, 'default_privileges_missing', r.nspname FROM r
 WHERE NOT EXISTS (
    SELECT 1 FROM pg_default_acl d, aclexplode(d.defaclacl) e
     WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = r.owner_name) AND d.defaclnamespace = r.nspoid
       AND d.defaclobjtype = 'r' AND e.grantee = (SELECT oid FROM pg_roles WHERE rolname = r.rolname)
       AND e.privilege_type = 'SELECT')
ORDER BY 1, 2, 3
"""

_MESSAGES = {
    "cannot_read": (Code.READONLY_CANNOT_READ, "read-only login {role} cannot SELECT from {detail}"),
    "can_write": (Code.READONLY_CAN_WRITE, "read-only login {role} holds {detail}"),
    "can_use_sequence": (Code.READONLY_CAN_USE_SEQUENCE, "read-only login {role} holds {detail} (nextval/setval)"),
    "can_create": (Code.READONLY_CAN_CREATE, "read-only login {role} holds {detail}"),
    "can_run_definer": (Code.READONLY_CAN_RUN_DEFINER,
                        "read-only login {role} may run SECURITY DEFINER function {detail}, which runs as the tenant's "
                        "owner role and can write"),
    "default_privileges_missing": (Code.READONLY_DEFAULT_PRIVILEGES_MISSING,
                                   "no default privileges FOR ROLE {owner} IN SCHEMA {detail} grant SELECT ON TABLES to "
                                   "{role}: it cannot read the tables the tenant creates from now on"),
}


def is_expected_default_acl(row: dict, tenant: Tenant) -> bool:
    """The one default privileges entry the model declares: FOR ROLE <owner> IN SCHEMA <schema>,
    SELECT (without grant option) on new tables, to the tenant's read-only login."""
    return (row["grantee"] in tenant.readonly_roles and row["for_role"] == tenant.role
            and row["nspname"] == tenant.schema and row["objtype"] == "r" and row["privileges"] == "SELECT")


def inherit_findings(row: dict, tenant: Tenant) -> list[Finding]:
    if not row["rolinherit"]:
        return []
    return [Finding(tenant.name, Code.ROLE_ATTRIBUTE, "INHERIT",
                    f"read-only login {row['rolname']} is INHERIT; it is declared NOINHERIT, so a membership "
                    f"granted to it would hand it that role's privileges at once")]


def own_state_findings(row: dict, tenant: Tenant) -> list[Finding]:
    """USAGE on its own schema (catalog_checks.OWN_STATE_SQL rows; CONNECT is checked there)."""
    if row["rolname"] not in tenant.readonly_roles or row["has_usage"] is not False:
        return []
    return [Finding(tenant.name, Code.OWN_SCHEMA_PRIVILEGE_MISSING, f"USAGE for {row['rolname']}",
                    f"read-only login {row['rolname']} lacks USAGE on its schema {tenant.schema}")]


def check_database(cur: psycopg.Cursor, tenants: Sequence[Tenant], datname: str) -> list[Finding]:
    """Findings for the read-only logins of the tenants of database `datname` (cur: a dict_row cursor on it)."""
    here = [t for t in tenants if t.database == datname and t.readonly_roles]
    if not here:
        return []
    by_name = {t.name: t for t in here}
    params = {"tenants": [t.name for t in here], "roles": [t.readonly_roles[0] for t in here],
              "owners": [t.role for t in here], "schemas": [t.schema for t in here]}
    findings = []
    for row in cur.execute(READONLY_SQL, params).fetchall():
        tenant = by_name[row["tenant"]]
        code, template = _MESSAGES[row["kind"]]
        message = template.format(role=tenant.readonly_roles[0], owner=tenant.role, detail=row["detail"])
        findings.append(Finding(tenant.name, code, row["detail"], message))
    return findings
