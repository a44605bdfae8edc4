"""Queries of the per-database checks: own schema and CONNECT, default privileges, ACL entries."""

from .context import FLEET_CTE, NON_SYSTEM_SCHEMAS

# One row per tenant role of this database: the schema's state (owner rows) and CONNECT.
OWN_STATE_SQL = (
    "WITH " + FLEET_CTE + """
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
    "WITH " + FLEET_CTE + """
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
PRIVILEGES_SQL = (
    "WITH RECURSIVE " + FLEET_CTE + """,
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
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END,
           format('%%I.%%I', n.nspname, c.relname), n.nspname, n.oid, NULL, c.relowner,
           e.grantee, e.privilege_type, e.is_grantable
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) e
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'column', format('%%I.%%I (%%I)', n.nspname, c.relname, a.attname), n.nspname, n.oid, NULL,
           c.relowner, e.grantee, e.privilege_type, e.is_grantable
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(a.attacl) e
     WHERE a.attacl IS NOT NULL AND """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'function', format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           n.nspname, n.oid, NULL, p.proowner, e.grantee, e.privilege_type, e.is_grantable
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) e
     WHERE """ + NON_SYSTEM_SCHEMAS + """
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
       e.kind, e.object, e.nspname, e.datname, e.object_tenant, e.privilege, e.grantable,
       NULL AS owner_name, NULL AS admin_acts_as_owner
  FROM entries e JOIN acts_as a ON a.roleid = e.grantee
UNION ALL
-- whether the admin may revoke PUBLIC's privilege: only the owner, a role with its privileges
-- or a superuser can (a REVOKE by anyone else is a WARNING that changes nothing)
SELECT NULL, NULL, e.kind, e.object, e.nspname, e.datname, e.object_tenant, e.privilege, e.grantable,
       pg_get_userbyid(e.owner),
       coalesce((SELECT pg_has_role(r.oid, e.owner, 'USAGE') FROM pg_roles r WHERE r.rolname = %(admin)s), false)
  FROM entries e WHERE e.grantee = 0
"""
)
