"""Queries of the role checks: cluster-wide, run once per server."""

from .context import FLEET_CTE

# pg_authid is readable by superusers only; elsewhere the login check proves SCRAM instead.
PASSWORD_KIND_SQL = """(
    SELECT CASE WHEN a.rolpassword IS NULL THEN 'none'
                WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%%' THEN 'scram'
                WHEN a.rolpassword LIKE 'md5%%' THEN 'md5'
                ELSE 'plaintext' END
    FROM pg_authid a WHERE a.oid = r.oid)"""

# PostgreSQL 16+: whether a login slot's membership in its owner role inherits privileges
# (pg_auth_members.inherit_option; the role's own INHERIT only sets the default of new grants).
SLOT_MEMBERSHIP_INHERITS_SQL = """(
    SELECT bool_or(m.inherit_option) FROM pg_auth_members m JOIN pg_roles o ON o.oid = m.roleid
     WHERE m.member = r.oid AND o.rolname = t.owner_name AND NOT t.is_owner)"""

ROLES_SQL = (
    "WITH " + FLEET_CTE + """
SELECT t.tenant, t.rolname, r.oid IS NOT NULL AS role_exists, r.rolcanlogin, r.rolinherit, r.rolsuper,
       r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
       {password_kind} AS password_kind,
       {membership_inherits} AS membership_inherits,
       r.rolconnlimit, t.connlimit AS declared_connlimit,
       r.rolvaliduntil::text AS valid_until, t.valid_until AS declared_valid_until,
       -- no VALID UNTIL at all (NULL) never expires: right for 'infinity', wrong for a date
       CASE WHEN t.valid_until IS NULL THEN NULL
            WHEN t.valid_until = 'infinity' THEN coalesce(r.rolvaliduntil = 'infinity', true)
            ELSE coalesce(r.rolvaliduntil = t.valid_until::timestamptz, false) END AS valid_until_ok,
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
    "WITH " + FLEET_CTE + """
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
    "WITH RECURSIVE " + FLEET_CTE + """,
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
    "WITH " + FLEET_CTE + """
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
