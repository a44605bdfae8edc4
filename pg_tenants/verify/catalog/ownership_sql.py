"""Queries of the ownership checks: every object in a schema and its owner, and large objects."""

from .context import FLEET_CTE, NON_SYSTEM_SCHEMAS

# Every object that lives in a schema, with its owner. Indexes and sequences linked to a
# table always have the table's owner (ALTER TABLE … OWNER moves them along): the table is
# the finding, so they are listed only should they ever differ. Types are the standalone
# ones: row types of relations are their relation, array and multirange types follow their
# element or range type, whose constructor functions are internal to it. Event triggers,
# extensions and large objects are in no schema.
SCHEMA_OBJECTS_CTE = """
objects(kind, object, nspoid, owner, secdef) AS (
    SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table'
                WHEN 'c' THEN 'type' WHEN 'i' THEN 'index' WHEN 'I' THEN 'partitioned index'
                WHEN 't' THEN 'TOAST table' ELSE 'relation' END,
           format('%%I.%%I', n.nspname, c.relname), c.relnamespace, c.relowner, false
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """
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
     WHERE """ + NON_SYSTEM_SCHEMAS + """
       -- the constructors PostgreSQL makes for a range type: internal, owned by the bootstrap superuser
       AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_proc'::regclass AND dep.objid = p.oid
                          AND dep.refclassid = 'pg_type'::regclass AND dep.deptype = 'i')
    UNION ALL
    SELECT CASE y.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, format('%%I.%%I', n.nspname, y.typname),
           y.typnamespace, y.typowner, false
      FROM pg_type y JOIN pg_namespace n ON n.oid = y.typnamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """ AND y.typrelid = 0 AND y.typtype <> 'm'
       AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = y.oid)
    UNION ALL
    SELECT 'operator', format('%%I.%%s(%%s, %%s)', n.nspname, o.oprname,
                              CASE WHEN o.oprleft = 0 THEN 'NONE' ELSE format_type(o.oprleft, NULL) END,
                              CASE WHEN o.oprright = 0 THEN 'NONE' ELSE format_type(o.oprright, NULL) END),
           o.oprnamespace, o.oprowner, false
      FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'collation', format('%%I.%%I', n.nspname, c.collname), c.collnamespace, c.collowner, false
      FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'conversion', format('%%I.%%I', n.nspname, c.conname), c.connamespace, c.conowner, false
      FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'operator class', format('%%I.%%I USING %%I', n.nspname, c.opcname, am.amname),
           c.opcnamespace, c.opcowner, false
      FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace JOIN pg_am am ON am.oid = c.opcmethod
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'operator family', format('%%I.%%I USING %%I', n.nspname, f.opfname, am.amname),
           f.opfnamespace, f.opfowner, false
      FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'text search configuration', format('%%I.%%I', n.nspname, c.cfgname), c.cfgnamespace, c.cfgowner, false
      FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'text search dictionary', format('%%I.%%I', n.nspname, d.dictname), d.dictnamespace, d.dictowner, false
      FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'statistics', format('%%I.%%I', n.nspname, x.stxname), x.stxnamespace, x.stxowner, false
      FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace
     WHERE """ + NON_SYSTEM_SCHEMAS + """
    UNION ALL
    SELECT 'schema', format('%%I', n.nspname), n.oid, n.nspowner, false
      FROM pg_namespace n
     WHERE """ + NON_SYSTEM_SCHEMAS + """
)"""

OWNERSHIP_SQL = (
    "WITH " + FLEET_CTE + """,
tenant_schemas AS (
    SELECT t.tenant, n.oid AS nspoid, r.oid AS owner_oid, quote_ident(t.rolname) AS owner_ident
      FROM t JOIN pg_namespace n ON n.nspname = t.nspname LEFT JOIN pg_roles r ON r.rolname = t.rolname
     WHERE t.is_owner AND t.datname = current_database()
),""" + SCHEMA_OBJECTS_CTE + """
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
    "WITH " + FLEET_CTE + """
SELECT tr.tenant, tr.rolname, count(*) AS large_objects
  FROM pg_largeobject_metadata l JOIN tr ON tr.roleid = l.lomowner
 GROUP BY tr.tenant, tr.rolname
"""
)
